// How a kernel that reads indices from device memory (token ids, sequence
// lengths) reports one that is out of range, so the host can raise the
// DataError the CPU backends raise, without a copy of the indices or a check
// before the launch.
//
// The caller owns one `unsigned long long` of device memory, the flag, zeroed
// once when allocated (cudaMemsetAsync(flag, 0, 8)) and again after it has
// reported an error. A kernel that meets a bad value v at position i (i <
// 2^32 - 1) does atomicMax(flag, encode_bad_index(i, v)), skips the memory the
// value would address, and goes on. After the launch (stream order) the host
// copies the flag back and decode_bad_index tells whether there was a bad value
// and which: the one at the smallest position, whatever the thread order.
//
// Encoding: ~((i << 32) | uint32(v)). The complement turns "smallest position"
// into atomicMax and makes 0 mean "none" (it would need i = 2^32 - 1, v = -1).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace seqtrain::kernels {

// Positions must be below this for the encoding (a launch checks it).
inline constexpr std::int64_t kMaxIndexedPositions = (std::int64_t{1} << 32) - 1;

struct BadIndex {
  bool found = false;
  std::int64_t position = 0;  // the smallest position holding a bad value
  std::int32_t value = 0;     // the value found there
};

__host__ __device__ inline unsigned long long encode_bad_index(std::int64_t position,
                                                               std::int32_t value) {
  return ~((static_cast<unsigned long long>(position) << 32) |
           static_cast<unsigned long long>(static_cast<std::uint32_t>(value)));
}

inline BadIndex decode_bad_index(unsigned long long flag) {
  if (flag == 0) return {};
  const unsigned long long packed = ~flag;
  return {true, static_cast<std::int64_t>(packed >> 32),
          static_cast<std::int32_t>(static_cast<std::uint32_t>(packed & 0xFFFFFFFFull))};
}

}  // namespace seqtrain::kernels
