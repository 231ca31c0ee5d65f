#include "data/mlm_batch.h"

#include <algorithm>

#include "seqtrain/error.h"
#include "seqtrain/op_types.h"

namespace seqtrain {
namespace {

// Rows [first, first + count) of a host tensor whose leading axis holds
// `rows` equal parts.
Tensor leading_rows(const Tensor& x, std::int64_t rows, std::int64_t first, std::int64_t count) {
  const std::int64_t per_row = x.numel() / rows;
  Shape shape = x.shape();
  shape[0] = shape[0] / rows * count;
  Tensor out = Tensor::empty(shape, x.dtype());
  const std::size_t element = dtype_size(x.dtype());
  std::copy_n(static_cast<const char*>(x.raw()) + first * per_row * element,
              count * per_row * element, static_cast<char*>(out.raw()));
  return out;
}

}  // namespace

MlmBatch slice_rows(const MlmBatch& batch, std::int64_t first, std::int64_t count) {
  const std::int64_t rows = batch.batch_size();
  SEQTRAIN_CHECK(first >= 0 && count >= 1 && first + count <= rows, "rows {} + {} of a batch of {}",
                 first, count, rows);
  MlmBatch slice;
  slice.input_ids = leading_rows(batch.input_ids, rows, first, count);
  slice.token_type_ids = leading_rows(batch.token_type_ids, rows, first, count);
  slice.lengths = leading_rows(batch.lengths, rows, first, count);
  slice.masked_positions = leading_rows(batch.masked_positions, rows, first, count);
  slice.masked_labels = leading_rows(batch.masked_labels, rows, first, count);
  const auto shift = static_cast<std::int32_t>(first * batch.sequence_length());
  for (std::int32_t& position : slice.masked_positions.span<std::int32_t>()) position -= shift;
  for (std::int32_t label : slice.masked_labels.span<std::int32_t>())
    slice.masked_count += label != kIgnoreTarget;
  return slice;
}

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
