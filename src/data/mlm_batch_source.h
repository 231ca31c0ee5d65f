// MlmBatchSource: what the BERT trainer needs from masked-LM data, the
// counterpart of SequenceDataset. Training batches come one after another from
// a position that is plain JSON (saved beside a checkpoint); restoring it into
// a freshly built source makes the following batches, masks included,
// identical to those the saved run would have drawn next. Validation batches,
// masks included, are the same on every call.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <vector>

#include "data/mlm_batch.h"
#include "data/sequence_dataset.h"

namespace seqtrain {

class MlmBatchSource {
 public:
  virtual ~MlmBatchSource() = default;

  // The batch at the current position; advances the position.
  virtual MlmBatch next_training_batch() = 0;

  // Where the next training batch comes from, as JSON, and back. Restoring
  // throws CheckpointError when the JSON is malformed or was saved for data
  // laid out differently (other shards, seed, batch size or sequence length).
  virtual nlohmann::json position_json() const = 0;
  virtual void restore_position_json(const nlohmann::json& position) = 0;

  // The first max_batches validation batches (all by default), the same on
  // every call; empty when the data has no validation split.
  virtual std::vector<MlmBatch> validation_batches(
      std::int64_t max_batches = kAllValidationBatches) const = 0;
};

}  // namespace seqtrain
