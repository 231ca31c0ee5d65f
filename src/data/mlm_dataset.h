// MlmDataset: masked-LM pretraining batches of one layout (batch size B,
// sequence length T) from prepared token shards. docs/data_formats.md
// ("Masked-LM batches") is the full description.
//
// Sequences are packed from the training split as MlmSequencePacking says.
// Epoch e serves them in a fresh order, the Fisher-Yates permutation drawn
// from Philox stream kShuffleStream + e under the seed, in floor(n / B) full
// batches (the last n mod B sequences of that order sit the epoch out).
//
// Dynamic masking: sequence i of epoch e is masked by mlm_mask_tokens with
// the draws of Philox stream kTrainingMaskStream + e starting at index
// i * 2^24 under the seed, so its masks are a pure function of
// (seed, epoch, i): redrawn every epoch, identical after a resume.
//
// Validation packs the validation split the same way, in order, with a fixed
// mask (stream kValidationMaskStream, index i * 2^24): the same batches on
// every call. The last validation batch holds the remaining sequences, so its
// B may be smaller.
//
// Position: {"epoch", "batch", "batches_per_epoch", "seed", "batch_size",
// "sequence_length"}; restoring one taken with another seed or layout is a
// CheckpointError.
//
// One thread at a time: training_batch() keeps the current epoch's order.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "data/epoch_position.h"
#include "data/mlm_batch_source.h"
#include "data/mlm_masking.h"
#include "data/mlm_sequence_packing.h"
#include "data/token_shards.h"

namespace seqtrain {

struct MlmDatasetOptions {
  std::int64_t batch_size = 32;            // B
  std::int64_t sequence_length = 128;      // T, [CLS] and [SEP] included; at least 3
  std::int64_t validation_batch_size = 0;  // 0 means batch_size
  std::uint64_t seed = 0;
  MlmMaskingOptions masking = {};
};

class MlmDataset final : public MlmBatchSource {
 public:
  // Philox streams ("MLM" in the top bytes): the epoch shuffles and training
  // masks (+ epoch), and the fixed validation masks.
  static constexpr std::uint64_t kShuffleStream = 0x4D4C4D0000000000ull;
  static constexpr std::uint64_t kTrainingMaskStream = 0x4D4C4D0100000000ull;
  static constexpr std::uint64_t kValidationMaskStream = 0x4D4C4D0200000000ull;
  // Draws reserved per sequence within a stream (mlm_mask_tokens needs at
  // most 5 * T).
  static constexpr std::uint64_t kDrawsPerSequence = std::uint64_t{1} << 24;

  // Throws ConfigError for options out of range (T < 3 or above 2^20, B < 1,
  // bad masking rates) and DataError when the training split packs into fewer
  // sequences than one batch.
  MlmDataset(std::shared_ptr<const TokenShards> shards, const MlmDatasetOptions& options);

  // The training sequences of an epoch in the order it serves them.
  std::vector<std::int64_t> epoch_order(std::int64_t epoch) const;
  // A pure function of (seed, position).
  MlmBatch training_batch(const EpochPosition& position) const;

  MlmBatch next_training_batch() override;
  nlohmann::json position_json() const override;
  void restore_position_json(const nlohmann::json& position) override;
  std::vector<MlmBatch> validation_batches(
      std::int64_t max_batches = kAllValidationBatches) const override;

  const EpochPosition& position() const { return position_; }
  // CheckpointError when the position does not fit this dataset's epochs.
  void restore_position(const EpochPosition& position);
  const MlmDatasetOptions& options() const { return options_; }
  std::int64_t batches_per_epoch() const;
  std::int64_t validation_batch_count() const;
  std::int64_t masked_per_sequence() const;  // P
  const MlmSequencePacking& training_packing() const { return training_packing_; }
  const MlmSequencePacking& validation_packing() const { return validation_packing_; }
  const TokenShards& shards() const { return *shards_; }

 private:
  // Packs and masks the given sequences as the rows of one batch.
  MlmBatch make_batch(const MlmSequencePacking& packing, std::span<const std::int64_t> sequences,
                      std::uint64_t mask_stream) const;

  std::shared_ptr<const TokenShards> shards_;
  MlmDatasetOptions options_;
  MlmSequencePacking training_packing_;
  MlmSequencePacking validation_packing_;
  EpochPosition position_;
  // The current epoch's order, kept so consecutive batches do not redraw it.
  mutable std::optional<std::pair<std::int64_t, std::vector<std::int64_t>>> cached_order_;
};

}  // namespace seqtrain
