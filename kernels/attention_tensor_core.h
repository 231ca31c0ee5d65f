// Host entry points of the tensor-core attention kernels
// (kernels/attention_tensor_core.cu, whose header has the tiling, shared memory
// and cost). Same math, layouts, dropout numbering, key-length clamping and
// workspace as kernels/attention.h's fp32 kernels, which stay the fp32 path;
// these take the same argument structs, causal mask included (args.causal):
//   causal  key j is masked out for query i when j > i (besides j >= L); key
//           tiles entirely above the diagonal are skipped, not computed.
// The products Q K^T, P V (forward) and dO V^T, dS K, dS^T Q, P^T dO (backward)
// run on tensor cores with 16-bit inputs and fp32 accumulation; softmax
// statistics, lse and D are fp32. Storage float and __nv_bfloat16 take bf16
// operands (float storage is rounded to bf16 on its way into shared memory,
// what training.precision bf16 means for a product), __half storage fp16
// operands. Outputs are written in the storage type. Head dims 64 and 128.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/attention.h"

namespace seqtrain::kernels {

// Whether the tensor-core kernels are built for this head dim (64, 128); the
// entry points throw std::invalid_argument (a bug in the caller) for any
// other, for batch x heads above 65535, and for dropout with a data-parallel
// offset (dropout.first_index != 0: attention.cu's kernels draw that; the
// cuda backend routes such calls there).
bool attention_tensor_core_supports_head_dim(std::int32_t head_dim);

void attention_tensor_core_forward(const AttentionForwardArgs<float>& args,
                                   cudaStream_t stream);
void attention_tensor_core_forward(const AttentionForwardArgs<__nv_bfloat16>& args,
                                   cudaStream_t stream);
void attention_tensor_core_forward(const AttentionForwardArgs<__half>& args,
                                   cudaStream_t stream);

// Two launches on `stream`: dQ (and D into args.workspace, which needs
// attention_workspace_bytes), then dK and dV.
void attention_tensor_core_backward(const AttentionBackwardArgs<float>& args,
                                    cudaStream_t stream);
void attention_tensor_core_backward(const AttentionBackwardArgs<__nv_bfloat16>& args,
                                    cudaStream_t stream);
void attention_tensor_core_backward(const AttentionBackwardArgs<__half>& args,
                                    cudaStream_t stream);

}  // namespace seqtrain::kernels
