// SequenceDataset: what the trainer needs from every sequence task's data.
// Training batches come one after another from a position that is plain JSON
// (saved beside a checkpoint); restoring that JSON into a freshly built dataset
// makes the following batches identical to those the saved run would have
// drawn next. Validation batches are the same on every call.
#pragma once

#include <cstdint>
#include <limits>
#include <nlohmann/json_fwd.hpp>
#include <vector>

#include "data/sequence_batch.h"

namespace seqtrain {

inline constexpr std::int64_t kAllValidationBatches = std::numeric_limits<std::int64_t>::max();

class SequenceDataset {
 public:
  virtual ~SequenceDataset() = default;

  // The batch at the current position; advances the position.
  virtual SequenceBatch next_training_batch() = 0;

  // Where the next training batch comes from, as JSON, and back. Restoring
  // throws CheckpointError when the JSON is malformed or was saved for data
  // laid out differently (another file, batch size or sequence length).
  virtual nlohmann::json position_json() const = 0;
  virtual void restore_position_json(const nlohmann::json& position) = 0;

  // The first max_batches validation batches (all of them by default), the same
  // on every call; empty when the task has no validation data.
  virtual std::vector<SequenceBatch> validation_batches(
      std::int64_t max_batches = kAllValidationBatches) const = 0;
};

}  // namespace seqtrain
