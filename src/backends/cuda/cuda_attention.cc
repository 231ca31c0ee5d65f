// The cuda backend's multi-head self-attention (kernels/attention.cu: fused
// QKV, online softmax, FlashAttention-2 backward from the saved log-sum-exp).
// Under training.precision bf16 (set_gemm_precision) and head sizes 64 and
// 128 the same algorithm runs with its products on tensor cores
// (kernels/attention_tensor_core.cu: bf16 operands, fp32 softmax and sums).
// A key length outside [0, T] is clamped by the kernels and raised as the CPU
// backends' DataError at the next host wait (defer_index_check); head sizes
// the kernel was not built for are a DeviceError.
#include <fmt/format.h>

#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/storage_dispatch.h"
#include "kernels/attention.h"
#include "kernels/attention_tensor_core.h"
#include "kernels/bad_index.h"

namespace seqtrain {

using cuda::device_data;
using cuda::to_int32;
using cuda::with_storage;

namespace {

struct AttentionShape {
  std::int32_t batch, steps, heads, head_dim;
};

// qkv [B, T, 3, heads, d].
AttentionShape attention_shape(const Tensor& qkv) {
  SEQTRAIN_CHECK(qkv.rank() == 5 && qkv.dim(2) == 3, "attention qkv of shape {}",
                 shape_string(qkv.shape()));
  const AttentionShape shape{to_int32(qkv.dim(0), "batch"), to_int32(qkv.dim(1), "steps"),
                             to_int32(qkv.dim(3), "heads"), to_int32(qkv.dim(4), "head size")};
  if (!kernels::attention_supports_head_dim(shape.head_dim))
    throw DeviceError(fmt::format(
        "cuda attention supports head sizes 32, 64 and 128, not {}: choose hidden_size / heads "
        "among them, or run with --device cpu",
        shape.head_dim));
  return shape;
}

// bf16 products on tensor cores where precision asks for bf16 and a kernel
// exists for the head size; the fp32 kernels otherwise.
// The tensor-core kernels draw dropout without a data-parallel rank's offset
// (kernels/attention_tensor_core.h): such calls go to attention.cu's kernels.
bool use_tensor_cores(Precision precision, const AttentionShape& shape,
                      const AttentionDropout& dropout) {
  return precision == Precision::bf16 &&
         kernels::attention_tensor_core_supports_head_dim(shape.head_dim) &&
         (dropout.probability == 0.0f || dropout.first_index == 0);
}

kernels::AttentionDropoutParams dropout_params(const AttentionDropout& dropout) {
  return {dropout.probability, dropout.seed, dropout.stream, dropout.step, dropout.first_index};
}

// The DataError of a key length outside [0, steps] (defer_index_check).
auto bad_key_length(std::int64_t steps) {
  return [steps](const kernels::BadIndex& bad) {
    throw DataError(fmt::format("attention: key length {} of sequence {} is outside [0, {}]",
                                bad.value, bad.position, steps));
  };
}

}  // namespace

void CudaBackend::attention_forward(const Tensor& qkv, const Tensor& key_lengths, bool causal,
                                    const AttentionDropout& dropout, Tensor& context,
                                    Tensor& log_sum_exp) {
  const AttentionShape s = attention_shape(qkv);
  unsigned long long* bad_length = defer_index_check(bad_key_length(s.steps));
  const bool tensor_cores = use_tensor_cores(gemm_precision_, s, dropout);
  with_storage(context, "attention_forward", [&]<class S>(S) {
    const kernels::AttentionForwardArgs<S> args{
        s.batch, s.steps, s.heads, s.head_dim, device_data<S>(qkv),
        device_data<std::int32_t>(key_lengths), dropout_params(dropout), device_data<S>(context),
        device_data<float>(log_sum_exp), bad_length, causal};
    if (tensor_cores)
      kernels::attention_tensor_core_forward(args, stream_);
    else
      kernels::attention_forward(args, stream_);
  });
}

void CudaBackend::attention_backward(const Tensor& qkv, const Tensor& key_lengths, bool causal,
                                     const Tensor& context, const Tensor& log_sum_exp,
                                     const Tensor& dcontext, const AttentionDropout& dropout,
                                     Tensor& dqkv) {
  const AttentionShape s = attention_shape(qkv);
  unsigned long long* bad_length = defer_index_check(bad_key_length(s.steps));
  std::shared_ptr<void> workspace =
      scratch(kernels::attention_workspace_bytes(s.batch, s.steps, s.heads));
  const bool tensor_cores = use_tensor_cores(gemm_precision_, s, dropout);
  with_storage(dqkv, "attention_backward", [&]<class S>(S) {
    const kernels::AttentionBackwardArgs<S> args{
        s.batch, s.steps, s.heads, s.head_dim, device_data<S>(qkv),
        device_data<std::int32_t>(key_lengths), device_data<S>(context),
        device_data<float>(log_sum_exp), device_data<S>(dcontext), dropout_params(dropout),
        device_data<S>(dqkv), workspace.get(), bad_length, causal};
    if (tensor_cores)
      kernels::attention_tensor_core_backward(args, stream_);
    else
      kernels::attention_backward(args, stream_);
  });
}

}  // namespace seqtrain
