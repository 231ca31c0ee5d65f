// Host entry points of the element-wise kernels (kernels/elementwise.cu, whose
// header has the launch geometry and costs): the Backend's add, mul, scale,
// accumulate and fill_zero on contiguous buffers of `count` elements.
//
// Storage is float or __nv_bfloat16; the arithmetic is fp32 (bf16 values are
// widened, combined, and rounded to nearest even once on store). An output may
// be the same buffer as an input (in place); partial overlaps are not allowed.
// Any pointer may have any element alignment: when every buffer of a call is
// 16-byte aligned the kernels move 16 bytes per load and store, otherwise one
// element at a time. Nothing is allocated; a count of 0 launches nothing.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

namespace seqtrain::kernels {

// out[i] = a[i] + b[i] or a[i] * b[i]
template <class Storage>
struct ElementwiseBinaryArgs {
  std::int64_t count = 0;
  const Storage* a = nullptr;
  const Storage* b = nullptr;
  Storage* out = nullptr;
};

// out[i] = x[i] * factor
template <class Storage>
struct ElementwiseScaleArgs {
  std::int64_t count = 0;
  const Storage* x = nullptr;
  float factor = 1.0f;
  Storage* out = nullptr;
};

// target[i] += x[i]
template <class Storage>
struct ElementwiseAccumulateArgs {
  std::int64_t count = 0;
  const Storage* x = nullptr;
  Storage* target = nullptr;
};

// x[i] = 0 (the same bytes as cudaMemsetAsync(x, 0, ...); this one also runs on
// the emulation).
template <class Storage>
struct ElementwiseFillZeroArgs {
  std::int64_t count = 0;
  Storage* x = nullptr;
};

// out[i] = x[i] rounded to bf16 (round to nearest even, __float2bfloat16):
// the bf16 copy of a GEMM operand (training.precision bf16).
struct ElementwiseToBf16Args {
  std::int64_t count = 0;
  const float* x = nullptr;
  __nv_bfloat16* out = nullptr;
};

// Blocks of a launch are capped at this many; larger buffers are covered by
// the grid-stride loop (each thread then handles several 16-byte groups).
inline constexpr std::int64_t kElementwiseMaxBlocks = 512;
inline constexpr int kElementwiseThreads = 256;

void elementwise_add(const ElementwiseBinaryArgs<float>& args, cudaStream_t stream);
void elementwise_add(const ElementwiseBinaryArgs<__nv_bfloat16>& args, cudaStream_t stream);
void elementwise_mul(const ElementwiseBinaryArgs<float>& args, cudaStream_t stream);
void elementwise_mul(const ElementwiseBinaryArgs<__nv_bfloat16>& args, cudaStream_t stream);
void elementwise_scale(const ElementwiseScaleArgs<float>& args, cudaStream_t stream);
void elementwise_scale(const ElementwiseScaleArgs<__nv_bfloat16>& args, cudaStream_t stream);
void elementwise_accumulate(const ElementwiseAccumulateArgs<float>& args, cudaStream_t stream);
void elementwise_accumulate(const ElementwiseAccumulateArgs<__nv_bfloat16>& args,
                            cudaStream_t stream);
void elementwise_fill_zero(const ElementwiseFillZeroArgs<float>& args, cudaStream_t stream);
void elementwise_fill_zero(const ElementwiseFillZeroArgs<__nv_bfloat16>& args, cudaStream_t stream);
void elementwise_to_bf16(const ElementwiseToBf16Args& args, cudaStream_t stream);

}  // namespace seqtrain::kernels
