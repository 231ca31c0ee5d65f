// BatchSource<Batch>: what training needs from a task's data, whatever its
// batches are (SequenceBatch for the sequence tasks, MlmBatch for masked-LM
// pretraining). Training batches come one after another from a position that
// is plain JSON (saved beside a checkpoint); restoring that JSON into a freshly
// built source makes the following batches (masks included) identical to
// those the saved run would have drawn next. Validation batches are the same
// on every call.
#pragma once

#include <cstdint>
#include <limits>
#include <nlohmann/json_fwd.hpp>
#include <vector>

namespace seqtrain {

inline constexpr std::int64_t kAllValidationBatches = std::numeric_limits<std::int64_t>::max();

template <class Batch>
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  // The batch at the current position; advances the position.
  virtual Batch next_training_batch() = 0;
  // Where the next training batch comes from, as JSON, and back. Restoring
  // throws CheckpointError when the JSON is malformed or was saved for data
  // laid out differently (another file or shards, seed, batch size or
  // sequence length).
  virtual nlohmann::json position_json() const = 0;
  virtual void restore_position_json(const nlohmann::json& position) = 0;
  // The first max_batches validation batches (all of them by default), the
  // same on every call; empty when the data has no validation split.
  virtual std::vector<Batch> validation_batches(
      std::int64_t max_batches = kAllValidationBatches) const = 0;
};

}  // namespace seqtrain
