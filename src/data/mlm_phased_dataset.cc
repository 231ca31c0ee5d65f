#include "data/mlm_phased_dataset.h"

#include <nlohmann/json.hpp>

#include "seqtrain/error.h"

namespace seqtrain {

MlmPhasedDataset::MlmPhasedDataset(std::shared_ptr<const TokenShards> shards,
                                   std::vector<MlmPhase> phases, const MlmDatasetOptions& options,
                                   std::int64_t batches_per_step)
    : phases_(std::move(phases)), batches_per_step_(batches_per_step) {
  SEQTRAIN_CHECK(batches_per_step_ >= 1, "{} batches per step", batches_per_step_);
  if (phases_.empty())
    throw ConfigError(
        "masked-LM data needs at least one phase (steps, sequence_length, batch_size)");
  datasets_.reserve(phases_.size());
  for (std::size_t p = 0; p < phases_.size(); ++p) {
    if (phases_[p].steps < 1)
      throw ConfigError(fmt::format("masked-LM data phase {} must run at least 1 step, got {}", p,
                                    phases_[p].steps));
    MlmDatasetOptions phase_options = options;
    phase_options.sequence_length = phases_[p].sequence_length;
    phase_options.batch_size = phases_[p].batch_size;
    datasets_.emplace_back(shards, phase_options);
  }
}

std::int64_t MlmPhasedDataset::phase_at_step(std::int64_t step) const {
  std::int64_t end = 0;
  for (std::size_t p = 0; p + 1 < phases_.size(); ++p) {
    end += phases_[p].steps;
    if (step < end) return static_cast<std::int64_t>(p);
  }
  return static_cast<std::int64_t>(phases_.size()) - 1;
}

const MlmDataset& MlmPhasedDataset::phase_dataset(std::int64_t phase) const {
  SEQTRAIN_CHECK(phase >= 0 && phase < static_cast<std::int64_t>(datasets_.size()),
                 "phase {} of {}", phase, datasets_.size());
  return datasets_[static_cast<std::size_t>(phase)];
}

MlmBatch MlmPhasedDataset::next_training_batch() {
  MlmBatch batch = datasets_[static_cast<std::size_t>(current_phase())].next_training_batch();
  ++batches_;
  return batch;
}

nlohmann::json MlmPhasedDataset::phases_json() const {
  nlohmann::json list = nlohmann::json::array();
  for (const MlmPhase& phase : phases_)
    list.push_back({phase.steps, phase.sequence_length, phase.batch_size});
  return list;
}

nlohmann::json MlmPhasedDataset::position_json() const {
  const std::int64_t phase = current_phase();
  return {{"batches", batches_},
          {"batches_per_step", batches_per_step_},
          {"phases", phases_json()},
          {"phase", phase},
          {"phase_position", datasets_[static_cast<std::size_t>(phase)].position_json()}};
}

void MlmPhasedDataset::restore_position_json(const nlohmann::json& position) {
  // "step" and no "batches_per_step": written before phases counted optimizer steps.
  const char* batches_key = position.contains("batches") ? "batches" : "step";
  if (!position.is_object() || !position.contains(batches_key) ||
      !position[batches_key].is_number_unsigned() || !position.contains("phase_position"))
    throw CheckpointError(fmt::format(
        "the saved masked-LM data position {} needs a non-negative integer \"batches\" and a "
        "\"phase_position\"",
        position.dump()));
  const nlohmann::json saved_per_step = position.value("batches_per_step", nlohmann::json(1));
  if (saved_per_step != batches_per_step_)
    throw CheckpointError(fmt::format(
        "the saved masked-LM data position was taken with {} batches per optimizer step, this run "
        "has training.gradient_accumulation {}: resume or evaluate it with that run's own config",
        saved_per_step.dump(), batches_per_step_));
  if (!position.contains("phases") || position["phases"] != phases_json())
    throw CheckpointError(fmt::format(
        "the saved masked-LM data position was taken with the phases {} ([steps, "
        "sequence_length, batch_size] each), but this run has {}: the checkpoint belongs to a run "
        "with other data.phases; resume or evaluate it with that run's own config",
        position.contains("phases") ? position["phases"].dump() : "(none)", phases_json().dump()));
  const auto batches = position[batches_key].get<std::int64_t>();
  const std::int64_t phase = phase_at_step(batches / batches_per_step_);
  if (!position.contains("phase") || position["phase"] != phase)
    throw CheckpointError(fmt::format(
        "the saved masked-LM data position {} names another phase than batch {} falls in ({})",
        position.dump(), batches, phase));
  datasets_[static_cast<std::size_t>(phase)].restore_position_json(position["phase_position"]);
  for (std::size_t later = static_cast<std::size_t>(phase) + 1; later < datasets_.size(); ++later)
    datasets_[later].restore_position({0, 0, datasets_[later].batches_per_epoch()});
  batches_ = batches;
}

std::vector<MlmBatch> MlmPhasedDataset::validation_batches(std::int64_t max_batches) const {
  return validation_batches_of_phase(current_phase(), max_batches);
}

std::vector<MlmBatch> MlmPhasedDataset::validation_batches_of_phase(
    std::int64_t phase, std::int64_t max_batches) const {
  return phase_dataset(phase).validation_batches(max_batches);
}

}  // namespace seqtrain
