// Reductions shared by the row-wise kernels (layernorm, softmax, cross_entropy,
// grad_norm). Warp reductions are butterflies over the 32 lanes, so every lane
// ends with the result and the summation order depends only on the lane, never
// on scheduling (results repeat bit for bit). Full-mask operations: all 32 lanes
// of the warp must call them, from the same line; the block reductions must be
// called by every thread of the block.
#pragma once

#include "kernels/device_api.h"

namespace seqtrain::kernels {

constexpr int kWarpSize = 32;

template <class T>
__device__ __forceinline__ T warp_sum(T value) {
  SEQTRAIN_UNROLL
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2)
    value += __shfl_xor_sync(0xffffffffu, value, offset);
  return value;
}

// The running (max, sum of exp(v - max)) of a softmax over values seen so far:
// one pass over a row gives its log-sum-exp without a separate max pass
// (Milakov & Gimelshein, "Online normalizer calculation for softmax"). An empty
// state is (-inf, 0).
struct SoftmaxStatistics {
  float max = -INFINITY;
  float sum = 0.0f;
};

__device__ __forceinline__ SoftmaxStatistics softmax_add(SoftmaxStatistics state, float value) {
  if (value > state.max) {
    // state.max = -inf gives exp(-inf) = 0 with sum 0: the first value.
    state.sum = state.sum * expf(state.max - value) + 1.0f;
    state.max = value;
  } else if (value > -INFINITY) {
    state.sum += expf(value - state.max);
  }
  return state;
}

__device__ __forceinline__ SoftmaxStatistics softmax_merge(SoftmaxStatistics a,
                                                           SoftmaxStatistics b) {
  const float largest = fmaxf(a.max, b.max);
  if (largest == -INFINITY) return {};
  return {largest, a.sum * expf(a.max - largest) + b.sum * expf(b.max - largest)};
}

__device__ __forceinline__ SoftmaxStatistics warp_softmax_statistics(SoftmaxStatistics state) {
  SEQTRAIN_UNROLL
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
    const SoftmaxStatistics other{__shfl_xor_sync(0xffffffffu, state.max, offset),
                                  __shfl_xor_sync(0xffffffffu, state.sum, offset)};
    state = softmax_merge(state, other);
  }
  return state;
}

// The sum over a 1-D block's threads (blockDim.x a multiple of 32), in a fixed
// order, returned to every thread: a butterfly per warp, then every thread adds
// the warps' sums in warp order from shared memory (a broadcast read). scratch:
// kWarpSize values of shared memory, free for reuse when this returns (two
// barriers).
template <class T>
__device__ __forceinline__ T block_sum(T value, T* scratch) {
  value = warp_sum(value);
  if (threadIdx.x % kWarpSize == 0) scratch[threadIdx.x / kWarpSize] = value;
  __syncthreads();
  T total = scratch[0];
  for (unsigned warp = 1; warp < blockDim.x / kWarpSize; ++warp) total += scratch[warp];
  __syncthreads();
  return total;
}

// softmax_merge over a 1-D block's threads, returned to every thread, the same
// way. scratch: 2 * kWarpSize floats of shared memory, free for reuse when this
// returns.
__device__ __forceinline__ SoftmaxStatistics block_softmax_statistics(SoftmaxStatistics state,
                                                                      float* scratch) {
  state = warp_softmax_statistics(state);
  const unsigned warp = threadIdx.x / kWarpSize;
  if (threadIdx.x % kWarpSize == 0) {
    scratch[warp] = state.max;
    scratch[kWarpSize + warp] = state.sum;
  }
  __syncthreads();
  SoftmaxStatistics total;
  for (unsigned other = 0; other < blockDim.x / kWarpSize; ++other)
    total = softmax_merge(total, {scratch[other], scratch[kWarpSize + other]});
  __syncthreads();
  return total;
}

}  // namespace seqtrain::kernels
