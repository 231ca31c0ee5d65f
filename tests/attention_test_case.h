// One attention case of the kernel tests (kernels_attention_test.cc,
// kernels_attention_tensor_core_test.cc): sizes, key lengths, dropout, the
// causal mask and a data-parallel rank's dropout offset, with the shapes and
// the Backend's dropout arguments they imply.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/attention.h"
#include "seqtrain/backend.h"
#include "seqtrain/tensor.h"

namespace seqtrain::testing {

struct AttentionCase {
  std::int64_t batch = 2, steps = 0, heads = 2, head_dim = 0;
  std::vector<std::int32_t> key_lengths;
  float dropout = 0.0f;
  bool causal = false;
  std::uint64_t first_index = 0;  // a data-parallel rank's offset into the global batch

  Shape qkv_shape() const { return {batch, steps, 3, heads, head_dim}; }
  Shape context_shape() const { return {batch, steps, heads * head_dim}; }
  Shape log_sum_exp_shape() const { return {batch, heads, steps}; }
  AttentionDropout dropout_args() const { return {dropout, 1234, 5, 6, first_index}; }
};

// The kernels' copy of Backend's dropout arguments.
inline kernels::AttentionDropoutParams kernel_dropout(const AttentionDropout& dropout) {
  return {dropout.probability, dropout.seed, dropout.stream, dropout.step, dropout.first_index};
}

}  // namespace seqtrain::testing
