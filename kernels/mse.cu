// Mean squared error, fp32 math on float or bf16 storage (s bytes per element):
//
//   forward   loss = (1/n) sum_i (p_i - t_i)^2          2 n s bytes, 3 n FLOPs
//   backward  dp_i = (2 dloss / n) (p_i - t_i)          3 n s bytes, 2 n FLOPs
//
// Both memory bound. The forward is a reduction done in a fixed order, without
// float atomics, so a loss never changes between runs of the same inputs:
//   1. partials: P = min(ceil(n / 256), 64) blocks of 256 threads. Thread g
//      of the grid sums (p_i - t_i)^2 over i = g, g + 256 P, ... in fp32; the
//      block's 256 sums meet in shared memory (one barrier), warp 0 adds them
//      in columns of 8 and then across its lanes by a shuffle butterfly, and
//      writes partial_sums[block].
//   2. finish: one block of 256 threads adds the P partials the same way and
//      writes loss = total / n.
// Both orders depend only on n. 64 blocks (half an H100's SMs) stream a loss
// over a few million elements in microseconds, which is all a loss per step
// needs; the losses we train with (a value per sequence, or per token and
// feature) are far smaller. Two launches cost a few microseconds more than a
// last-block-finishes scheme, which needs a zeroed counter and a fence: not
// worth it for a loss computed once per step.
// The backward is a 1-D grid-stride loop, 256 threads per block, min(ceil(n /
// 256), 1024) blocks; every thread reads dloss (one cached load).
#include <algorithm>

#include "kernels/device_api.h"
#include "kernels/launch.h"
#include "kernels/mse.h"
#include "kernels/storage.h"

namespace seqtrain::kernels {

constexpr int kMseThreads = 256;
constexpr int kMseWarps = kMseThreads / 32;
constexpr std::int64_t kMseBackwardMaxBlocks = 1024;

namespace {

// The sum of every thread's value, in a fixed order; valid in thread 0. One
// barrier: the block's values meet in shared memory, warp 0 adds columns of 8
// (lane, lane + 32, ...) and then its 32 sums by a shuffle butterfly.
__device__ __forceinline__ float block_sum(float value) {
  __shared__ float values[kMseThreads];
  values[threadIdx.x] = value;
  __syncthreads();
  float total = 0.0f;
  if (threadIdx.x < 32) {
    SEQTRAIN_UNROLL
    for (int warp = 0; warp < kMseWarps; ++warp) total += values[threadIdx.x + 32 * warp];
    SEQTRAIN_UNROLL
    for (int offset = 16; offset > 0; offset /= 2)
      total += __shfl_xor_sync(0xffffffffu, total, offset);
  }
  return total;
}

}  // namespace

template <class Storage>
__global__ void __launch_bounds__(kMseThreads)
    mse_partial_sums_kernel(const MseForwardArgs<Storage> args) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  float sum = 0.0f;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
       i < args.count; i += stride) {
    const float difference = load_float(args.prediction + i) - load_float(args.target + i);
    sum += difference * difference;
  }
  const float total = block_sum(sum);
  if (threadIdx.x == 0) args.partial_sums[blockIdx.x] = total;
}

template <class Storage>
__global__ void __launch_bounds__(kMseThreads)
    mse_finish_kernel(const MseForwardArgs<Storage> args, const int partials) {
  const float total =
      block_sum(static_cast<int>(threadIdx.x) < partials ? args.partial_sums[threadIdx.x] : 0.0f);
  if (threadIdx.x == 0)
    args.loss[0] = args.count > 0 ? total / static_cast<float>(args.count) : 0.0f;
}

template <class Storage>
__global__ void __launch_bounds__(kMseThreads)
    mse_backward_kernel(const MseBackwardArgs<Storage> args) {
  const float factor = 2.0f * args.dloss[0] / static_cast<float>(args.count);
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
       i < args.count; i += stride)
    store_float(args.dprediction + i,
                factor * (load_float(args.prediction + i) - load_float(args.target + i)));
}

static_assert(kMseForwardWorkspaceFloats <= kMseThreads,
              "the finish kernel reads one partial per thread");

namespace {

template <class Storage>
void launch_mse_forward(const MseForwardArgs<Storage>& args, cudaStream_t stream) {
  const int partials = static_cast<int>(std::min<std::int64_t>(
      (args.count + kMseThreads - 1) / kMseThreads, kMseForwardWorkspaceFloats));
  if (partials > 0)
    SEQTRAIN_LAUNCH((LaunchConfig{dim3(partials), dim3(kMseThreads), 0, stream}),
                    mse_partial_sums_kernel<Storage>, args);
  SEQTRAIN_LAUNCH((LaunchConfig{dim3(1), dim3(kMseThreads), 0, stream}), mse_finish_kernel<Storage>,
                  args, partials);
}

template <class Storage>
void launch_mse_backward(const MseBackwardArgs<Storage>& args, cudaStream_t stream) {
  if (args.count <= 0) return;
  const std::int64_t blocks =
      std::min((args.count + kMseThreads - 1) / kMseThreads, kMseBackwardMaxBlocks);
  SEQTRAIN_LAUNCH((LaunchConfig{dim3(static_cast<unsigned>(blocks)), dim3(kMseThreads), 0, stream}),
                  mse_backward_kernel<Storage>, args);
}

}  // namespace

void mse_forward(const MseForwardArgs<float>& args, cudaStream_t stream) {
  launch_mse_forward(args, stream);
}
void mse_forward(const MseForwardArgs<__nv_bfloat16>& args, cudaStream_t stream) {
  launch_mse_forward(args, stream);
}
void mse_backward(const MseBackwardArgs<float>& args, cudaStream_t stream) {
  launch_mse_backward(args, stream);
}
void mse_backward(const MseBackwardArgs<__nv_bfloat16>& args, cudaStream_t stream) {
  launch_mse_backward(args, stream);
}

}  // namespace seqtrain::kernels
