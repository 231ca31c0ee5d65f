// MlmPhasedDataset: a masked-LM batch source whose layout changes with the
// training step, for BERT's two-phase recipe (short sequences for most steps,
// long ones at the end: 90% of steps at T = 128, then T = 512).
//
// Phases run in order; phase p serves its `steps` batches with its own
// MlmDataset (sequence length, batch size) over the same memory-mapped
// shards. Each phase starts at epoch 0, batch 0 of its own packing; the last
// phase goes on past its step count for as long as training asks. Masks and
// shuffles come from the one seed, so every phase is reproducible.
//
// The config expresses it as a list, for example
//   data:
//     phases:
//       - {steps: 900, sequence_length: 128, batch_size: 32}
//       - {steps: 100, sequence_length: 512, batch_size: 8}
// and one phase is the same as a plain MlmDataset.
//
// validation_batches() uses the current phase's layout (the graph shapes the
// trainer already holds); validation_batches_of_phase() any phase's.
//
// Position: {"step": s, "phases": [[steps, T, B]...], "phase": p,
// "phase_position": <that phase's MlmDataset position>}; restoring one taken
// with other phases is a CheckpointError.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "data/mlm_dataset.h"

namespace seqtrain {

struct MlmPhase {
  std::int64_t steps = 0;  // training batches in this phase, at least 1
  std::int64_t sequence_length = 128;
  std::int64_t batch_size = 32;
};

class MlmPhasedDataset final : public MlmBatchSource {
 public:
  // `options` gives the seed, masking and validation batch size shared by all
  // phases (its batch_size and sequence_length are ignored). Throws
  // ConfigError for an empty phase list or a phase with steps < 1, and what
  // MlmDataset throws for each phase's layout.
  MlmPhasedDataset(std::shared_ptr<const TokenShards> shards, std::vector<MlmPhase> phases,
                   const MlmDatasetOptions& options);

  // The phase that serves training step `step` (0-based).
  std::int64_t phase_at_step(std::int64_t step) const;
  std::int64_t current_phase() const { return phase_at_step(step_); }
  // Training batches served so far.
  std::int64_t step() const { return step_; }
  const std::vector<MlmPhase>& phases() const { return phases_; }
  const MlmDataset& phase_dataset(std::int64_t phase) const;

  MlmBatch next_training_batch() override;
  nlohmann::json position_json() const override;
  void restore_position_json(const nlohmann::json& position) override;
  std::vector<MlmBatch> validation_batches(
      std::int64_t max_batches = kAllValidationBatches) const override;
  std::vector<MlmBatch> validation_batches_of_phase(
      std::int64_t phase, std::int64_t max_batches = kAllValidationBatches) const;

 private:
  nlohmann::json phases_json() const;

  std::vector<MlmPhase> phases_;
  std::vector<MlmDataset> datasets_;  // one per phase
  std::int64_t step_ = 0;
};

}  // namespace seqtrain
