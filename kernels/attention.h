// Host entry points of the fused multi-head attention kernels
// (kernels/attention.cu, whose header has the tiling, shared memory and cost per
// call). The math and layouts are Backend::attention_forward/backward's
// (include/seqtrain/backend.h):
//   qkv [B, T, 3, heads, d]  one fused QKV projection, q | k | v per token
//   key_lengths [B] int32    keys j >= key_lengths[b] are masked out
//   causal                   keys j > i are masked out for query i as well
//   context [B, T, heads*d]  o_i = sum_j p_ij z_ij v_j, heads concatenated
//   log_sum_exp [B, heads, T] fp32, lse_i = log sum_j exp(s_ij); -inf for length 0
//   dqkv [B, T, 3, heads, d] overwritten, masked keys get zero dk and dv
// with s_ij = q_i . k_j / sqrt(d), p_ij = exp(s_ij - lse_i) and z_ij the
// dropout factor drawn from Philox at ((b*heads + h)*T + i)*T + j.
//
// Storage (qkv, context, dcontext, dqkv) is float or __nv_bfloat16; all math
// and log_sum_exp are fp32. Head dims 32, 64 and 128; any T. key_lengths are
// read on the device and clamped to [0, T]; a length outside that range is
// recorded in bad_length when given (kernels/bad_index.h: position b, value
// the length), so the caller can raise the serial backend's DataError without
// reading the lengths back.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace seqtrain::kernels {

// The fields of seqtrain::AttentionDropout (backend.h), repeated so this header
// needs nothing but the CUDA runtime API: element (b, h, i, j) is kept when
// philox_uniform(seed, stream, step, ((b*heads + h)*T + i)*T + j) >= probability
// and then scaled by 1 / (1 - probability). probability 0 keeps everything.
struct AttentionDropoutParams {
  float probability = 0.0f;
  std::uint64_t seed = 0;
  std::uint64_t stream = 0;
  std::uint64_t step = 0;
  std::uint64_t first_index = 0;  // added to every element's index (data parallel)
};

template <class Storage>
struct AttentionForwardArgs {
  std::int32_t batch = 0;  // B
  std::int32_t steps = 0;  // T
  std::int32_t heads = 0;
  std::int32_t head_dim = 0;                  // d: 32, 64 or 128
  const Storage* qkv = nullptr;               // [B, T, 3, heads, d]
  const std::int32_t* key_lengths = nullptr;  // [B]
  AttentionDropoutParams dropout;
  Storage* context = nullptr;    // [B, T, heads * d]
  float* log_sum_exp = nullptr;  // [B, heads, T]
  unsigned long long* bad_length = nullptr;  // optional flag (kernels/bad_index.h)
  bool causal = false;  // query i sees keys j <= i only; tiles above the diagonal are skipped
};

template <class Storage>
struct AttentionBackwardArgs {
  std::int32_t batch = 0;
  std::int32_t steps = 0;
  std::int32_t heads = 0;
  std::int32_t head_dim = 0;
  const Storage* qkv = nullptr;               // [B, T, 3, heads, d]
  const std::int32_t* key_lengths = nullptr;  // [B]
  const Storage* context = nullptr;           // [B, T, heads * d]: the forward's
  const float* log_sum_exp = nullptr;         // [B, heads, T]: the forward's
  const Storage* dcontext = nullptr;          // [B, T, heads * d]
  AttentionDropoutParams dropout;             // the forward's
  Storage* dqkv = nullptr;                    // [B, T, 3, heads, d], overwritten
  // attention_workspace_bytes(batch, steps, heads) of device memory, no
  // initialisation needed: D_i = dO_i . o_i per (b, h, i), in fp32.
  void* workspace = nullptr;
  unsigned long long* bad_length = nullptr;  // optional flag (kernels/bad_index.h)
  bool causal = false;  // the forward's
};

// Device memory attention_backward needs in AttentionBackwardArgs::workspace.
std::size_t attention_workspace_bytes(std::int32_t batch, std::int32_t steps, std::int32_t heads);

// Whether the kernels are built for this head dim (32, 64, 128). The entry
// points throw std::invalid_argument (a bug in the caller) for any other, and
// for batch x heads above 65535 (one grid row per (batch, head)).
bool attention_supports_head_dim(std::int32_t head_dim);

void attention_forward(const AttentionForwardArgs<float>& args, cudaStream_t stream);
void attention_forward(const AttentionForwardArgs<__nv_bfloat16>& args, cudaStream_t stream);
// Two launches on `stream`: dQ (and D into the workspace), then dK and dV.
void attention_backward(const AttentionBackwardArgs<float>& args, cudaStream_t stream);
void attention_backward(const AttentionBackwardArgs<__nv_bfloat16>& args, cudaStream_t stream);

}  // namespace seqtrain::kernels
