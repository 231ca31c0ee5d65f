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

// The kernels' arguments for case c on host buffers (device memory under the
// emulation): the forward's, and the backward's that read its saved outputs.
template <class Storage>
kernels::AttentionForwardArgs<Storage> forward_args(const AttentionCase& c, const Storage* qkv,
                                                    const std::int32_t* key_lengths,
                                                    Storage* context, float* log_sum_exp,
                                                    unsigned long long* bad_length = nullptr) {
  kernels::AttentionForwardArgs<Storage> args;
  args.batch = static_cast<std::int32_t>(c.batch);
  args.steps = static_cast<std::int32_t>(c.steps);
  args.heads = static_cast<std::int32_t>(c.heads);
  args.head_dim = static_cast<std::int32_t>(c.head_dim);
  args.qkv = qkv;
  args.key_lengths = key_lengths;
  args.dropout = kernel_dropout(c.dropout_args());
  args.context = context;
  args.log_sum_exp = log_sum_exp;
  args.bad_length = bad_length;
  args.causal = c.causal;
  return args;
}

template <class Storage>
kernels::AttentionBackwardArgs<Storage> backward_args(
    const kernels::AttentionForwardArgs<Storage>& forward, const Storage* saved_context,
    const float* saved_log_sum_exp, const Storage* dcontext, Storage* dqkv, void* workspace) {
  kernels::AttentionBackwardArgs<Storage> args;
  args.batch = forward.batch;
  args.steps = forward.steps;
  args.heads = forward.heads;
  args.head_dim = forward.head_dim;
  args.qkv = forward.qkv;
  args.key_lengths = forward.key_lengths;
  args.context = saved_context;
  args.log_sum_exp = saved_log_sum_exp;
  args.dcontext = dcontext;
  args.dropout = forward.dropout;
  args.dqkv = dqkv;
  args.workspace = workspace;
  args.bad_length = forward.bad_length;
  args.causal = forward.causal;
  return args;
}

}  // namespace seqtrain::testing
