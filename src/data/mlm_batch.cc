#include "data/mlm_batch.h"

namespace seqtrain {

std::int64_t MlmBatch::batch_size() const {
  return input_ids.dim(0);
}

std::int64_t MlmBatch::sequence_length() const {
  return input_ids.dim(1);
}

std::int64_t MlmBatch::masked_per_sequence() const {
  return batch_size() == 0 ? 0 : masked_positions.dim(0) / batch_size();
}

}  // namespace seqtrain
