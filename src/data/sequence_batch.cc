#include "data/sequence_batch.h"

#include <cstring>

#include "seqtrain/error.h"

namespace seqtrain {
namespace {

// Rows [first, first + count) of axis `axis` (0: [B, ...], 1: time-major
// [T, B, ...]) of a host tensor.
Tensor slice_axis(const Tensor& x, int axis, std::int64_t first, std::int64_t count) {
  if (!x.defined()) return x;
  Shape shape = x.shape();
  const std::int64_t outer = axis == 0 ? 1 : shape[0];
  const std::int64_t rows = shape[static_cast<std::size_t>(axis)];
  std::int64_t inner = 1;
  for (std::size_t d = static_cast<std::size_t>(axis) + 1; d < shape.size(); ++d) inner *= shape[d];
  SEQTRAIN_CHECK(first >= 0 && count >= 0 && first + count <= rows,
                 "rows {} + {} of a batch of {}", first, count, rows);
  shape[static_cast<std::size_t>(axis)] = count;
  Tensor out = Tensor::empty(shape, x.dtype());
  const std::size_t element = dtype_size(x.dtype());
  const auto* source = static_cast<const char*>(x.raw());
  auto* target = static_cast<char*>(out.raw());
  const std::size_t run = static_cast<std::size_t>(count * inner) * element;
  for (std::int64_t o = 0; o < outer; ++o)
    if (run > 0)
      std::memcpy(target + static_cast<std::size_t>(o) * run,
                  source + static_cast<std::size_t>((o * rows + first) * inner) * element, run);
  return out;
}

}  // namespace

SequenceBatch slice_rows(const SequenceBatch& batch, std::int64_t first, std::int64_t count) {
  SequenceBatch slice;
  slice.tokens = slice_axis(batch.tokens, 1, first, count);
  slice.features = slice_axis(batch.features, 1, first, count);
  slice.lengths = slice_axis(batch.lengths, 0, first, count);
  // charlm's targets are time-major [T, B]; the others' lead with the batch.
  slice.targets = slice_axis(batch.targets, batch.targets.rank() == 2 && batch.tokens.defined() &&
                                                    batch.targets.dim(1) == batch.batch_size() &&
                                                    batch.targets.dim(0) == batch.steps()
                                                ? 1
                                                : 0,
                             first, count);
  slice.continues_previous = batch.continues_previous;
  return slice;
}

std::int64_t SequenceBatch::steps() const {
  return tokens.rank() == 2 ? tokens.dim(0) : features.dim(0);
}

std::int64_t SequenceBatch::batch_size() const {
  return lengths.dim(0);
}

}  // namespace seqtrain
