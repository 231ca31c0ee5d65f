// The recurrent layer's sizes and sequence lengths (RnnForwardArgs in
// seqtrain/backend.h), read the same way by the serial, cpu and cuda backends.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>

#include "seqtrain/error.h"
#include "seqtrain/graph.h"
#include "seqtrain/tensor.h"

namespace seqtrain {

// x [T, B, I], weight_hh [G*H, H], workspace [T, B, W*H].
struct RnnShape {
  std::int64_t steps, batch, input, hidden;
  std::int64_t gate_width;       // G * H: rows of weight_ih and weight_hh
  std::int64_t workspace_width;  // W * H
};

inline RnnShape rnn_shape(RnnCell cell, const Tensor& x, const Tensor& weight_hh) {
  const std::int64_t hidden = weight_hh.dim(1);
  return {x.dim(0), x.dim(1),         x.dim(2),
          hidden,   weight_hh.dim(0), rnn_workspace_width(cell) * hidden};
}

// len_b of row b, checked: a packed sequence holds 1 to steps steps.
inline std::int64_t sequence_length(const std::int32_t* lengths, std::int64_t row,
                                    std::int64_t steps) {
  const std::int32_t length = lengths[row];
  if (length < 1 || length > steps)
    throw DataError(fmt::format("recurrent layer: sequence {} has length {}, outside [1, {}]", row,
                                length, steps));
  return length;
}

// Checks every one of the rows' lengths and returns the longest.
inline std::int64_t longest_sequence(const std::int32_t* lengths, std::int64_t rows,
                                     std::int64_t steps) {
  std::int64_t longest = 0;
  for (std::int64_t row = 0; row < rows; ++row)
    longest = std::max(longest, sequence_length(lengths, row, steps));
  return longest;
}

}  // namespace seqtrain
