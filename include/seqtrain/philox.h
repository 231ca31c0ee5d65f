// Philox4x32-10 (Salmon et al., SC 2011) as one inline function that host C++,
// the CUDA emulation and nvcc's device code all compile: the CPU backends, the
// kernels in kernels/ and the tests draw the very same numbers. rng.h builds the
// host-side streams on it.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define SEQTRAIN_HOST_DEVICE __host__ __device__
#else
#define SEQTRAIN_HOST_DEVICE
#endif

namespace seqtrain {

struct PhiloxWords {
  std::uint32_t word[4];
};

// The four 32-bit words of counter (counter_high, counter_low) under key.
SEQTRAIN_HOST_DEVICE inline PhiloxWords philox4x32_words(std::uint64_t key,
                                                         std::uint64_t counter_high,
                                                         std::uint64_t counter_low) {
  constexpr std::uint32_t kMultiplier0 = 0xD2511F53u;
  constexpr std::uint32_t kMultiplier1 = 0xCD9E8D57u;
  constexpr std::uint32_t kWeyl0 = 0x9E3779B9u;
  constexpr std::uint32_t kWeyl1 = 0xBB67AE85u;
  std::uint32_t c0 = static_cast<std::uint32_t>(counter_low);
  std::uint32_t c1 = static_cast<std::uint32_t>(counter_low >> 32);
  std::uint32_t c2 = static_cast<std::uint32_t>(counter_high);
  std::uint32_t c3 = static_cast<std::uint32_t>(counter_high >> 32);
  std::uint32_t k0 = static_cast<std::uint32_t>(key);
  std::uint32_t k1 = static_cast<std::uint32_t>(key >> 32);
  for (int round = 0; round < 10; ++round) {
    const std::uint64_t product0 = static_cast<std::uint64_t>(kMultiplier0) * c0;
    const std::uint64_t product1 = static_cast<std::uint64_t>(kMultiplier1) * c2;
    const std::uint32_t n0 = static_cast<std::uint32_t>(product1 >> 32) ^ c1 ^ k0;
    const std::uint32_t n1 = static_cast<std::uint32_t>(product1);
    const std::uint32_t n2 = static_cast<std::uint32_t>(product0 >> 32) ^ c3 ^ k1;
    const std::uint32_t n3 = static_cast<std::uint32_t>(product0);
    c0 = n0;
    c1 = n1;
    c2 = n2;
    c3 = n3;
    k0 += kWeyl0;
    k1 += kWeyl1;
  }
  return {{c0, c1, c2, c3}};
}

// Uniform [0, 1) from 32 random bits, using the top 24 bits so every value is
// exactly representable in float.
SEQTRAIN_HOST_DEVICE inline float bits_to_uniform(std::uint32_t bits) {
  return static_cast<float>(bits >> 8) * (1.0f / 16777216.0f);
}

// The index-th uniform of (stream, step): what dropout and masking draw per
// element. Steps below 2^24 and indices below 2^42 do not collide.
SEQTRAIN_HOST_DEVICE inline float philox_uniform(std::uint64_t seed, std::uint64_t stream,
                                                 std::uint64_t step, std::uint64_t index) {
  return bits_to_uniform(
      philox4x32_words(seed, stream, (step << 40) | (index >> 2)).word[index & 3]);
}

}  // namespace seqtrain
