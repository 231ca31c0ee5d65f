// CUDA's device-side API as host C++, so kernels/*.cu compile with g++ and run
// on the CPU (kernels/device_api.h includes this when the compiler is not nvcc).
//
// What each name becomes:
//   threadIdx, blockIdx, blockDim, gridDim   thread_local variables (thread_context.h)
//   __global__ __device__ __host__           nothing (the toolkit's host_defines.h)
//   __shared__                               static: the running block's storage,
//                                            since one block runs at a time. It keeps
//                                            what the previous block left: do not
//                                            rely on shared memory contents at block
//                                            start (on a GPU they are undefined too).
//   SEQTRAIN_DYNAMIC_SHARED (device_api.h)   the launch's dynamic shared buffer,
//                                            filled with 0xFF (NaN) at block start
//   __syncthreads, __syncwarp                emulator barriers (emulator.h)
//   __shfl*_sync, __ballot/__all/__any_sync  one warp exchange each, PTX's lane rules
//   atomicAdd/Sub/Exch/Min/Max/And/Or/Xor/CAS std::atomic_ref, relaxed like CUDA's
//   __threadfence*                           a sequentially consistent fence
//   __expf, __logf, __fdividef, rsqrtf, ...  the accurate <cmath> functions (some in
//                                            intrinsics.cc): the GPU's approximations
//                                            are not modelled, so compare results
//                                            with tolerances
//   __half, __nv_bfloat16                    the toolkit's own host-side types
// Not here: __activemask and partial masks (warp divergence is not modelled),
// __syncthreads_count/_and/_or, cooperative groups, clock64, texture and
// surface memory, and tensor cores other than through WMMA (nvcuda::wmma's
// m16n16k16 bf16/fp16 fragments are in wmma_emulation.h; no raw mma.sync,
// ldmatrix or wgmma).
#pragma once

#if defined(__CUDACC__)
#error "kernels/emu/cuda_emulation.h is for host compilers; nvcc uses the CUDA headers"
#endif

// Every toolkit header first: host_defines.h defines __shared__, which is
// redefined below.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>
#include <vector_types.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <source_location>
#include <stdexcept>
#include <type_traits>

#include "kernels/emu/emulator.h"
#include "kernels/emu/thread_context.h"

#define SEQTRAIN_CUDA_EMULATION 1

#undef __shared__
#define __shared__ static
#ifndef __launch_bounds__
#define __launch_bounds__(...)
#endif

inline constexpr int warpSize = 32;

// ---- barriers ------------------------------------------------------------------

inline void __syncthreads(std::source_location where = std::source_location::current()) {
  seqtrain::emu::sync_threads(where);
}

inline void __syncwarp(unsigned mask = 0xffffffffu,
                       std::source_location where = std::source_location::current()) {
  seqtrain::emu::warp_exchange(mask, 0, "__syncwarp", where);
}

// ---- warp shuffles and votes -----------------------------------------------------

namespace seqtrain::emu::detail {

enum class ShuffleMode { index, up, down, butterfly };

template <class T>
std::uint64_t to_bits(const T& value) {
  static_assert(sizeof(T) <= sizeof(std::uint64_t) && std::is_trivially_copyable_v<T>,
                "warp shuffles move values of at most 8 bytes");
  std::uint64_t bits = 0;
  std::memcpy(&bits, static_cast<const void*>(&value), sizeof(T));
  return bits;
}

template <class T>
T from_bits(std::uint64_t bits) {
  T value{};
  std::memcpy(static_cast<void*>(&value), &bits, sizeof(T));
  return value;
}

// PTX shfl.sync: lanes form segments of `width`; a source outside the caller's
// segment (or outside the warp) gives the caller its own value, except that
// index mode wraps the source lane within the segment.
inline int shuffle_source_lane(ShuffleMode mode, int lane, int operand, int width) {
  if (width < 1 || width > warpSize || (width & (width - 1)) != 0)
    throw std::invalid_argument("warp shuffle width must be a power of two in [1, 32]");
  const int segment_first = lane & ~(width - 1);
  const int segment_last = segment_first + width - 1;
  int source = lane;
  bool valid = false;
  switch (mode) {
    case ShuffleMode::index:
      source = segment_first + (operand & (width - 1));
      valid = true;
      break;
    case ShuffleMode::up:
      source = lane - operand;
      valid = source >= segment_first;
      break;
    case ShuffleMode::down:
      source = lane + operand;
      valid = source <= segment_last;
      break;
    case ShuffleMode::butterfly:
      source = lane ^ (operand & (warpSize - 1));
      valid = source <= segment_last;
      break;
  }
  return valid ? source : lane;
}

template <class T>
T shuffle(ShuffleMode mode, const char* operation, unsigned mask, const T& value, int operand,
          int width, const std::source_location& where) {
  const std::uint64_t* slots = warp_exchange(mask, to_bits(value), operation, where);
  const int lane = static_cast<int>(current_thread % warpSize);
  return from_bits<T>(slots[shuffle_source_lane(mode, lane, operand, width)]);
}

inline unsigned ballot(const char* operation, unsigned mask, int predicate,
                       const std::source_location& where) {
  const std::uint64_t* slots = warp_exchange(mask, predicate != 0 ? 1 : 0, operation, where);
  unsigned bits = 0;
  for (int lane = 0; lane < warpSize; ++lane)
    if (slots[lane] != 0) bits |= 1u << lane;
  return bits & mask;
}

}  // namespace seqtrain::emu::detail

template <class T>
T __shfl_sync(unsigned mask, T var, int srcLane, int width = warpSize,
              std::source_location where = std::source_location::current()) {
  using seqtrain::emu::detail::ShuffleMode;
  return seqtrain::emu::detail::shuffle(ShuffleMode::index, "__shfl_sync", mask, var, srcLane,
                                        width, where);
}
template <class T>
T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize,
                 std::source_location where = std::source_location::current()) {
  using seqtrain::emu::detail::ShuffleMode;
  return seqtrain::emu::detail::shuffle(ShuffleMode::up, "__shfl_up_sync", mask, var,
                                        static_cast<int>(delta), width, where);
}
template <class T>
T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize,
                   std::source_location where = std::source_location::current()) {
  using seqtrain::emu::detail::ShuffleMode;
  return seqtrain::emu::detail::shuffle(ShuffleMode::down, "__shfl_down_sync", mask, var,
                                        static_cast<int>(delta), width, where);
}
template <class T>
T __shfl_xor_sync(unsigned mask, T var, int laneMask, int width = warpSize,
                  std::source_location where = std::source_location::current()) {
  using seqtrain::emu::detail::ShuffleMode;
  return seqtrain::emu::detail::shuffle(ShuffleMode::butterfly, "__shfl_xor_sync", mask, var,
                                        laneMask, width, where);
}

inline unsigned __ballot_sync(unsigned mask, int predicate,
                              std::source_location where = std::source_location::current()) {
  return seqtrain::emu::detail::ballot("__ballot_sync", mask, predicate, where);
}
inline int __all_sync(unsigned mask, int predicate,
                      std::source_location where = std::source_location::current()) {
  return seqtrain::emu::detail::ballot("__all_sync", mask, predicate, where) == mask;
}
inline int __any_sync(unsigned mask, int predicate,
                      std::source_location where = std::source_location::current()) {
  return seqtrain::emu::detail::ballot("__any_sync", mask, predicate, where) != 0;
}

// ---- atomics (relaxed, returning the old value, as CUDA's) ---------------------

namespace seqtrain::emu::detail {

template <class T>
std::atomic_ref<T> atomic_at(T* address) {
  return std::atomic_ref<T>(*address);
}

// read-modify-write by compare-and-swap: for operations std::atomic_ref lacks.
template <class T, class Update>
T atomic_update(T* address, Update update) {
  std::atomic_ref<T> target(*address);
  T old = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(old, update(old), std::memory_order_relaxed)) {
  }
  return old;
}

// 16-bit floats: compare-and-swap on their bits.
template <class Half, class Update>
Half atomic_update_16(Half* address, Update update) {
  static_assert(sizeof(Half) == sizeof(unsigned short));
  auto* bits = reinterpret_cast<unsigned short*>(address);
  const unsigned short old = atomic_update(bits, [&](unsigned short current) {
    return std::bit_cast<unsigned short>(update(std::bit_cast<Half>(current)));
  });
  return std::bit_cast<Half>(old);
}

}  // namespace seqtrain::emu::detail

#define SEQTRAIN_EMU_FETCH(name, fetch, type)                                                 \
  inline type name(type* address, type value) {                                               \
    return seqtrain::emu::detail::atomic_at(address).fetch(value, std::memory_order_relaxed); \
  }
SEQTRAIN_EMU_FETCH(atomicAdd, fetch_add, int)
SEQTRAIN_EMU_FETCH(atomicAdd, fetch_add, unsigned)
SEQTRAIN_EMU_FETCH(atomicAdd, fetch_add, unsigned long long)
SEQTRAIN_EMU_FETCH(atomicAdd, fetch_add, float)
SEQTRAIN_EMU_FETCH(atomicAdd, fetch_add, double)
SEQTRAIN_EMU_FETCH(atomicSub, fetch_sub, int)
SEQTRAIN_EMU_FETCH(atomicSub, fetch_sub, unsigned)
SEQTRAIN_EMU_FETCH(atomicAnd, fetch_and, int)
SEQTRAIN_EMU_FETCH(atomicAnd, fetch_and, unsigned)
SEQTRAIN_EMU_FETCH(atomicAnd, fetch_and, unsigned long long)
SEQTRAIN_EMU_FETCH(atomicOr, fetch_or, int)
SEQTRAIN_EMU_FETCH(atomicOr, fetch_or, unsigned)
SEQTRAIN_EMU_FETCH(atomicOr, fetch_or, unsigned long long)
SEQTRAIN_EMU_FETCH(atomicXor, fetch_xor, int)
SEQTRAIN_EMU_FETCH(atomicXor, fetch_xor, unsigned)
SEQTRAIN_EMU_FETCH(atomicXor, fetch_xor, unsigned long long)
#undef SEQTRAIN_EMU_FETCH

#define SEQTRAIN_EMU_EXCHANGE_MIN_MAX(type)                                                       \
  inline type atomicExch(type* address, type value) {                                             \
    return seqtrain::emu::detail::atomic_at(address).exchange(value, std::memory_order_relaxed);  \
  }                                                                                               \
  inline type atomicMin(type* address, type value) {                                              \
    return seqtrain::emu::detail::atomic_update(                                                  \
        address, [value](type current) { return std::min(current, value); });                     \
  }                                                                                               \
  inline type atomicMax(type* address, type value) {                                              \
    return seqtrain::emu::detail::atomic_update(                                                  \
        address, [value](type current) { return std::max(current, value); });                     \
  }                                                                                               \
  inline type atomicCAS(type* address, type compare, type value) {                                \
    seqtrain::emu::detail::atomic_at(address).compare_exchange_strong(compare, value,             \
                                                                      std::memory_order_relaxed); \
    return compare;                                                                               \
  }
SEQTRAIN_EMU_EXCHANGE_MIN_MAX(int)
SEQTRAIN_EMU_EXCHANGE_MIN_MAX(unsigned)
SEQTRAIN_EMU_EXCHANGE_MIN_MAX(long long)
SEQTRAIN_EMU_EXCHANGE_MIN_MAX(unsigned long long)
#undef SEQTRAIN_EMU_EXCHANGE_MIN_MAX

inline float atomicExch(float* address, float value) {
  return seqtrain::emu::detail::atomic_at(address).exchange(value, std::memory_order_relaxed);
}
inline unsigned short atomicCAS(unsigned short* address, unsigned short compare,
                                unsigned short value) {
  seqtrain::emu::detail::atomic_at(address).compare_exchange_strong(compare, value,
                                                                    std::memory_order_relaxed);
  return compare;
}
inline __half atomicAdd(__half* address, __half value) {
  return seqtrain::emu::detail::atomic_update_16(address, [value](__half current) {
    return __float2half(__half2float(current) + __half2float(value));
  });
}
inline __nv_bfloat16 atomicAdd(__nv_bfloat16* address, __nv_bfloat16 value) {
  return seqtrain::emu::detail::atomic_update_16(address, [value](__nv_bfloat16 current) {
    return __float2bfloat16(__bfloat162float(current) + __bfloat162float(value));
  });
}

inline void __threadfence() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
}
inline void __threadfence_block() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
}
inline void __threadfence_system() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

// ---- arithmetic intrinsics ---------------------------------------------------------

// __expf, __exp10f, __logf, __log2f, __log10f, __powf, __sinf, __cosf and
// __tanf are declared by glibc's <math.h> (as internal names of expf and the
// rest, which libm does not export): intrinsics.cc defines them.
inline float __fdividef(float x, float y) {
  return x / y;
}
inline float rsqrtf(float x) {
  return 1.0f / std::sqrt(x);
}
inline float __frsqrt_rn(float x) {
  return 1.0f / std::sqrt(x);
}
inline float __frcp_rn(float x) {
  return 1.0f / x;
}
inline float __fsqrt_rn(float x) {
  return std::sqrt(x);
}
inline float __fmaf_rn(float x, float y, float z) {
  return std::fma(x, y, z);
}
inline float __saturatef(float x) {
  return x > 0.0f ? (x < 1.0f ? x : 1.0f) : 0.0f;
}
inline int __float_as_int(float x) {
  return std::bit_cast<int>(x);
}
inline unsigned __float_as_uint(float x) {
  return std::bit_cast<unsigned>(x);
}
inline float __int_as_float(int x) {
  return std::bit_cast<float>(x);
}
inline float __uint_as_float(unsigned x) {
  return std::bit_cast<float>(x);
}
inline int __popc(unsigned x) {
  return std::popcount(x);
}
inline int __popcll(unsigned long long x) {
  return std::popcount(x);
}
inline int __clz(int x) {
  return std::countl_zero(static_cast<unsigned>(x));
}
inline int __ffs(int x) {
  return x == 0 ? 0 : std::countr_zero(static_cast<unsigned>(x)) + 1;
}
template <class T>
T __ldg(const T* address) {
  return *address;
}

// A kernel's assertion failure: the block is aborted with this as its fault.
[[noreturn]] inline void __trap() {
  throw std::runtime_error("__trap() called");
}
