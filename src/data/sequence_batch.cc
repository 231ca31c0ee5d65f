#include "data/sequence_batch.h"

namespace seqtrain {

std::int64_t SequenceBatch::steps() const {
  return tokens.rank() == 2 ? tokens.dim(0) : features.dim(0);
}

std::int64_t SequenceBatch::batch_size() const {
  return lengths.dim(0);
}

}  // namespace seqtrain
