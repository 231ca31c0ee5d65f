// Element-wise arithmetic on contiguous buffers of n elements, fp32 math on
// float or bf16 storage (s = 4 or 2 bytes per element):
//
//   add         out[i] = a[i] + b[i]      3 n s bytes moved, n FLOPs
//   mul         out[i] = a[i] * b[i]      3 n s bytes,       n FLOPs
//   scale       out[i] = x[i] * factor    2 n s bytes,       n FLOPs
//   accumulate  target[i] += x[i]         3 n s bytes,       n FLOPs
//   fill_zero   x[i] = 0                    n s bytes
//   to_bf16     out[i] = bf16(x[i])           6 n bytes (f32 in, bf16 out)
//
// All are memory bound by far (at most 1 FLOP per 8 bytes against the ~10+
// FLOP/byte machine balance of an A100 or H100): the only thing that matters
// is moving the bytes in as few, as wide and as coalesced transactions as
// possible.
//
// Launch geometry: a 1-D grid-stride loop, 256 threads per block, over groups
// of 16 bytes (4 floats or 8 bf16) when every buffer of the call is 16-byte
// aligned, otherwise over single elements. Thread g of the grid handles groups
// g, g + G, g + 2G, ... (G = blocks * 256), so each warp's loads are 512
// consecutive bytes. Blocks = ceil(groups / 256), capped at 512; larger
// buffers loop. 512 x 256 threads with 2-3 loads of 16 bytes each in flight
// are ~4 MB of outstanding reads, about twice what Little's law asks of an
// H100 (3.35 TB/s x ~600 ns latency = ~2 MB). The n mod 4 (or 8)
// elements after the last whole group are done one each by the first threads
// of block 0. No shared memory, no barriers.
#include <algorithm>
#include <cstdint>

#include "kernels/device_api.h"
#include "kernels/elementwise.h"
#include "kernels/launch.h"
#include "kernels/storage.h"

namespace seqtrain::kernels {

namespace {

// 16 bytes of Storage, moved by one 128-bit load or store.
template <class Storage>
struct alignas(16) Packed16 {
  static constexpr int kSize = 16 / sizeof(Storage);
  Storage values[kSize];
};

template <class Storage>
__device__ __forceinline__ void load_group(const Storage* address,
                                           float (&values)[Packed16<Storage>::kSize]) {
  const int4 bits = *reinterpret_cast<const int4*>(address);
  Packed16<Storage> packed;
  memcpy(&packed, &bits, sizeof(packed));
  SEQTRAIN_UNROLL
  for (int k = 0; k < Packed16<Storage>::kSize; ++k) values[k] = load_float(&packed.values[k]);
}

template <class Storage>
__device__ __forceinline__ void store_group(Storage* address,
                                            const float (&values)[Packed16<Storage>::kSize]) {
  Packed16<Storage> packed;
  SEQTRAIN_UNROLL
  for (int k = 0; k < Packed16<Storage>::kSize; ++k) store_float(&packed.values[k], values[k]);
  int4 bits;
  memcpy(&bits, &packed, sizeof(bits));
  *reinterpret_cast<int4*>(address) = bits;
}

// The operations: kInputs says how many of a, b are read.
struct AddOp {
  static constexpr int kInputs = 2;
  __device__ float operator()(float a, float b) const { return a + b; }
};
struct MulOp {
  static constexpr int kInputs = 2;
  __device__ float operator()(float a, float b) const { return a * b; }
};
struct ScaleOp {
  static constexpr int kInputs = 1;
  float factor;
  __device__ float operator()(float a, float) const { return a * factor; }
};
struct ZeroOp {
  static constexpr int kInputs = 0;
  __device__ float operator()(float, float) const { return 0.0f; }
};

template <class Storage, class Op>
__device__ __forceinline__ void apply_element(const Op& op, const Storage* a, const Storage* b,
                                              Storage* out, std::int64_t i) {
  float x = 0.0f, y = 0.0f;
  if constexpr (Op::kInputs >= 1) x = load_float(a + i);
  if constexpr (Op::kInputs >= 2) y = load_float(b + i);
  store_float(out + i, op(x, y));
}

}  // namespace

template <class Storage, class Op, bool kVectorized>
__global__ void __launch_bounds__(kElementwiseThreads)
    elementwise_kernel(const std::int64_t count, const Storage* a, const Storage* b, Storage* out,
                       const Op op) {
  constexpr int kWidth = kVectorized ? Packed16<Storage>::kSize : 1;
  const std::int64_t groups = count / kWidth;
  const std::int64_t first = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t group = first; group < groups; group += stride) {
    const std::int64_t base = group * kWidth;
    if constexpr (kVectorized) {
      float x[kWidth] = {}, y[kWidth] = {}, result[kWidth];
      if constexpr (Op::kInputs >= 1) load_group(a + base, x);
      if constexpr (Op::kInputs >= 2) load_group(b + base, y);
      SEQTRAIN_UNROLL
      for (int k = 0; k < kWidth; ++k) result[k] = op(x[k], y[k]);
      store_group(out + base, result);
    } else {
      apply_element(op, a, b, out, base);
    }
  }
  const std::int64_t tail = groups * kWidth + first;  // fewer than kWidth remain
  if (tail < count) apply_element(op, a, b, out, tail);
}

// to_bf16: one element per thread per grid-stride step; a warp reads 128
// consecutive bytes and writes 64, which coalesce without vector types.
__global__ void __launch_bounds__(kElementwiseThreads)
    to_bf16_kernel(const std::int64_t count, const float* x, __nv_bfloat16* out) {
  const std::int64_t first = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = first; i < count; i += stride) out[i] = __float2bfloat16(x[i]);
}

namespace {

bool aligned16(const void* pointer) {
  return reinterpret_cast<std::uintptr_t>(pointer) % 16 == 0;  // null counts as aligned
}

template <class Storage, class Op>
void launch_elementwise(std::int64_t count, const Storage* a, const Storage* b, Storage* out,
                        const Op& op, cudaStream_t stream) {
  if (count <= 0) return;
  const bool vectorized = aligned16(a) && aligned16(b) && aligned16(out);
  const std::int64_t width = vectorized ? Packed16<Storage>::kSize : 1;
  const std::int64_t groups = std::max<std::int64_t>(count / width, 1);
  const std::int64_t blocks =
      std::min((groups + kElementwiseThreads - 1) / kElementwiseThreads, kElementwiseMaxBlocks);
  const LaunchConfig config{dim3(static_cast<unsigned>(blocks)), dim3(kElementwiseThreads), 0,
                            stream};
  if (vectorized)
    SEQTRAIN_LAUNCH(config, elementwise_kernel<Storage, Op, true>, count, a, b, out, op);
  else
    SEQTRAIN_LAUNCH(config, elementwise_kernel<Storage, Op, false>, count, a, b, out, op);
}

template <class Storage>
void launch_add(const ElementwiseBinaryArgs<Storage>& args, cudaStream_t stream) {
  launch_elementwise(args.count, args.a, args.b, args.out, AddOp{}, stream);
}
template <class Storage>
void launch_mul(const ElementwiseBinaryArgs<Storage>& args, cudaStream_t stream) {
  launch_elementwise(args.count, args.a, args.b, args.out, MulOp{}, stream);
}
template <class Storage>
void launch_scale(const ElementwiseScaleArgs<Storage>& args, cudaStream_t stream) {
  launch_elementwise<Storage>(args.count, args.x, nullptr, args.out, ScaleOp{args.factor}, stream);
}
template <class Storage>
void launch_accumulate(const ElementwiseAccumulateArgs<Storage>& args, cudaStream_t stream) {
  launch_elementwise<Storage>(args.count, args.target, args.x, args.target, AddOp{}, stream);
}
template <class Storage>
void launch_fill_zero(const ElementwiseFillZeroArgs<Storage>& args, cudaStream_t stream) {
  launch_elementwise<Storage>(args.count, nullptr, nullptr, args.x, ZeroOp{}, stream);
}

}  // namespace

void elementwise_add(const ElementwiseBinaryArgs<float>& args, cudaStream_t stream) {
  launch_add(args, stream);
}
void elementwise_add(const ElementwiseBinaryArgs<__nv_bfloat16>& args, cudaStream_t stream) {
  launch_add(args, stream);
}
void elementwise_mul(const ElementwiseBinaryArgs<float>& args, cudaStream_t stream) {
  launch_mul(args, stream);
}
void elementwise_mul(const ElementwiseBinaryArgs<__nv_bfloat16>& args, cudaStream_t stream) {
  launch_mul(args, stream);
}
void elementwise_scale(const ElementwiseScaleArgs<float>& args, cudaStream_t stream) {
  launch_scale(args, stream);
}
void elementwise_scale(const ElementwiseScaleArgs<__nv_bfloat16>& args, cudaStream_t stream) {
  launch_scale(args, stream);
}
void elementwise_accumulate(const ElementwiseAccumulateArgs<float>& args, cudaStream_t stream) {
  launch_accumulate(args, stream);
}
void elementwise_accumulate(const ElementwiseAccumulateArgs<__nv_bfloat16>& args,
                            cudaStream_t stream) {
  launch_accumulate(args, stream);
}
void elementwise_fill_zero(const ElementwiseFillZeroArgs<float>& args, cudaStream_t stream) {
  launch_fill_zero(args, stream);
}
void elementwise_fill_zero(const ElementwiseFillZeroArgs<__nv_bfloat16>& args,
                           cudaStream_t stream) {
  launch_fill_zero(args, stream);
}

void elementwise_to_bf16(const ElementwiseToBf16Args& args, cudaStream_t stream) {
  if (args.count <= 0) return;
  const std::int64_t blocks = std::min(
      (args.count + kElementwiseThreads - 1) / kElementwiseThreads, kElementwiseMaxBlocks);
  const LaunchConfig config{dim3(static_cast<unsigned>(blocks)), dim3(kElementwiseThreads), 0,
                            stream};
  SEQTRAIN_LAUNCH(config, to_bf16_kernel, args.count, args.x, args.out);
}

}  // namespace seqtrain::kernels
