// MlmPhasedDataset: a masked-LM batch source whose layout changes with the
// training step, for BERT's two-phase recipe (short sequences for most steps,
// long ones at the end: 90% of steps at T = 128, then T = 512).
//
// Phases run in order and are counted in optimizer steps: with
// `batches_per_step` micro-batches per step (training.gradient_accumulation),
// phase p serves steps * batches_per_step batches with its own MlmDataset
// (sequence length, batch size) over the same memory-mapped shards, so one
// optimizer step never mixes two sequence lengths. Each phase starts at epoch 0, batch 0 of its own packing; the last
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
// Position: {"batches": n, "batches_per_step": k, "phases": [[steps, T, B]...],
// "phase": p, "phase_position": <that phase's MlmDataset position>}; restoring
// one taken with other phases or another batches_per_step is a
// CheckpointError. Positions written before batches_per_step existed carry
// "step" (batches served) and were taken with one batch per step.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "data/mlm_dataset.h"

namespace seqtrain {

struct MlmPhase {
  std::int64_t steps = 0;  // optimizer steps in this phase, at least 1
  std::int64_t sequence_length = 128;
  std::int64_t batch_size = 32;
};

class MlmPhasedDataset final : public MlmBatchSource {
 public:
  // `options` gives the seed, masking and validation batch size shared by all
  // phases (its batch_size and sequence_length are ignored). Throws
  // ConfigError for an empty phase list or a phase with steps < 1, and what
  // MlmDataset throws for each phase's layout. batches_per_step >= 1.
  MlmPhasedDataset(std::shared_ptr<const TokenShards> shards, std::vector<MlmPhase> phases,
                   const MlmDatasetOptions& options, std::int64_t batches_per_step = 1);

  // The phase that serves optimizer step `step` (0-based).
  std::int64_t phase_at_step(std::int64_t step) const;
  // The phase of the next training batch.
  std::int64_t current_phase() const { return phase_at_step(batches_ / batches_per_step_); }
  // The phase that served the last training batch (0 before any).
  std::int64_t last_phase() const {
    return batches_ == 0 ? 0 : phase_at_step((batches_ - 1) / batches_per_step_);
  }
  // Training batches served so far.
  std::int64_t batches_served() const { return batches_; }
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
  std::int64_t batches_per_step_;
  std::int64_t batches_ = 0;
};

}  // namespace seqtrain
