// Multi-head self-attention on the cpu backend: checks the key lengths, takes
// the scratch and runs the kernels of the vector ISA the backend was made for
// (attention_kernels.cc, built per ISA; cpu_isa.h).
#include <fmt/format.h>

#include "backends/cpu/attention_kernels.h"
#include "backends/cpu/cpu_backend.h"

namespace seqtrain {
namespace {

cpu::AttentionProblem attention_problem(const Tensor& qkv, const Tensor& key_lengths,
                                        bool causal, const AttentionDropout& dropout) {
  // Checked before any parallel loop (an exception cannot leave one).
  const std::int64_t steps = qkv.dim(1);
  for (std::int64_t b = 0; b < key_lengths.numel(); ++b) {
    const std::int32_t length = key_lengths.data<std::int32_t>()[b];
    if (length < 0 || length > steps)
      throw DataError(fmt::format("attention: key length {} of sequence {} is outside [0, {}]",
                                  length, b, steps));
  }
  return {qkv.dim(0),         qkv.dim(1), qkv.dim(3), qkv.dim(4), qkv.data<float>(),
          key_lengths.data<std::int32_t>(), causal, dropout};
}

}  // namespace

float* CpuBackend::attention_scratch(std::int64_t count, const std::source_location& user) {
  check_scratch_guards();
  return attention_scratch_.reserve<float>(count, user);
}

void CpuBackend::attention_forward(const Tensor& qkv, const Tensor& key_lengths, bool causal,
                                   const AttentionDropout& dropout, Tensor& context,
                                   Tensor& log_sum_exp) {
  const cpu::AttentionProblem problem = attention_problem(qkv, key_lengths, causal, dropout);
  float* scratch = attention_scratch(attention_kernels_->scratch_floats_per_thread(problem) * threads_);
  attention_kernels_->forward(problem, threads_, scratch, context.data<float>(),
                              log_sum_exp.data<float>());
}

void CpuBackend::attention_backward(const Tensor& qkv, const Tensor& key_lengths, bool causal,
                                    const Tensor& context, const Tensor& log_sum_exp,
                                    const Tensor& dcontext, const AttentionDropout& dropout,
                                    Tensor& dqkv) {
  const cpu::AttentionProblem problem = attention_problem(qkv, key_lengths, causal, dropout);
  float* scratch = attention_scratch(attention_kernels_->scratch_floats_per_thread(problem) * threads_);
  attention_kernels_->backward(problem, threads_, scratch, context.data<float>(),
                               log_sum_exp.data<float>(), dcontext.data<float>(), dqkv.data<float>());
}

}  // namespace seqtrain
