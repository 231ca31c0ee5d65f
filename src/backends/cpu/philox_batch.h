// Philox4x32-10 (seqtrain/rng.h) for eight consecutive counters at once, for
// element-wise random draws in hot loops: the rounds of philox4x32 in
// core/rng.cc on eight 32-bit lanes (AVX2), or as a plain loop elsewhere.
// Bit-identical results (tests/attention_test.cc holds dropout masks against
// philox_uniform).
#pragma once

#include <cstdint>

#include <immintrin.h>

#include "backends/cpu/cpu_variant.h"

namespace seqtrain::cpu {
inline namespace SEQTRAIN_CPU_VARIANT {

inline constexpr int kPhiloxLanes = 8;

// words[w][i] = philox4x32(key, counter_high, first_counter_low + i)[w].
inline void philox4x32_batch(std::uint64_t key, std::uint64_t counter_high,
                             std::uint64_t first_counter_low,
                             std::uint32_t words[4][kPhiloxLanes]) {
  constexpr std::uint32_t kMultiplier0 = 0xD2511F53u;
  constexpr std::uint32_t kMultiplier1 = 0xCD9E8D57u;
  constexpr std::uint32_t kWeyl0 = 0x9E3779B9u;
  constexpr std::uint32_t kWeyl1 = 0xBB67AE85u;
  std::uint32_t c0[kPhiloxLanes], c1[kPhiloxLanes], c2[kPhiloxLanes], c3[kPhiloxLanes];
  for (int i = 0; i < kPhiloxLanes; ++i) {
    const std::uint64_t counter_low = first_counter_low + static_cast<std::uint64_t>(i);
    c0[i] = static_cast<std::uint32_t>(counter_low);
    c1[i] = static_cast<std::uint32_t>(counter_low >> 32);
    c2[i] = static_cast<std::uint32_t>(counter_high);
    c3[i] = static_cast<std::uint32_t>(counter_high >> 32);
  }
  std::uint32_t k0 = static_cast<std::uint32_t>(key);
  std::uint32_t k1 = static_cast<std::uint32_t>(key >> 32);
#if SEQTRAIN_CPU_AVX2
  // g++'s own vectorisation of the loop below shuffles the 64-bit products
  // back into 32-bit lanes expensively; with blends each product word costs
  // two multiplies, three shifts and two blends.
  __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c0));
  __m256i x1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c1));
  __m256i x2 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c2));
  __m256i x3 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c3));
  const __m256i m0 = _mm256_set1_epi32(static_cast<int>(kMultiplier0));
  const __m256i m1 = _mm256_set1_epi32(static_cast<int>(kMultiplier1));
  // high and low 32 bits of m * x per 32-bit lane.
  auto multiply = [](__m256i m, __m256i x, __m256i& high, __m256i& low) {
    const __m256i even = _mm256_mul_epu32(x, m);
    const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(x, 32), m);
    low = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
    high = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
  };
  for (int round = 0; round < 10; ++round) {
    __m256i high0, low0, high1, low1;
    multiply(m0, x0, high0, low0);
    multiply(m1, x2, high1, low1);
    const __m256i n0 =
        _mm256_xor_si256(_mm256_xor_si256(high1, x1), _mm256_set1_epi32(static_cast<int>(k0)));
    const __m256i n2 =
        _mm256_xor_si256(_mm256_xor_si256(high0, x3), _mm256_set1_epi32(static_cast<int>(k1)));
    x0 = n0;
    x1 = low1;
    x2 = n2;
    x3 = low0;
    k0 += kWeyl0;
    k1 += kWeyl1;
  }
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(words[0]), x0);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(words[1]), x1);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(words[2]), x2);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(words[3]), x3);
#else
  for (int round = 0; round < 10; ++round) {
    for (int i = 0; i < kPhiloxLanes; ++i) {
      const std::uint64_t product0 = static_cast<std::uint64_t>(kMultiplier0) * c0[i];
      const std::uint64_t product1 = static_cast<std::uint64_t>(kMultiplier1) * c2[i];
      const std::uint32_t n0 = static_cast<std::uint32_t>(product1 >> 32) ^ c1[i] ^ k0;
      const std::uint32_t n1 = static_cast<std::uint32_t>(product1);
      const std::uint32_t n2 = static_cast<std::uint32_t>(product0 >> 32) ^ c3[i] ^ k1;
      const std::uint32_t n3 = static_cast<std::uint32_t>(product0);
      c0[i] = n0;
      c1[i] = n1;
      c2[i] = n2;
      c3[i] = n3;
    }
    k0 += kWeyl0;
    k1 += kWeyl1;
  }
  for (int i = 0; i < kPhiloxLanes; ++i) {
    words[0][i] = c0[i];
    words[1][i] = c1[i];
    words[2][i] = c2[i];
    words[3][i] = c3[i];
  }
#endif
}

}  // namespace SEQTRAIN_CPU_VARIANT
}  // namespace seqtrain::cpu
