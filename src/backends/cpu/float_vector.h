// The widest float vector the variant targets (cpu_variant.h), for register-blocked kernels whose
// accumulators must stay in registers (attention's tile products). Loops that
// the compiler vectorises on its own do not need this; these kernels keep a
// 6 x 2 block of accumulators live across the whole depth loop, which g++ only
// does when the vectors are spelled out and the loops over the block are
// unrolled before its scalar replacement (#pragma GCC unroll).
//   AVX-512F     16 lanes, fused multiply-add
//   AVX2 + FMA    8 lanes, fused multiply-add (-march=x86-64-v3 and newer)
//   otherwise     4 lanes (g++'s generic vectors: SSE2), multiply then add
#pragma once

#include <cstdint>
#include <cstring>

#include <immintrin.h>

#include "backends/cpu/cpu_variant.h"

namespace seqtrain::cpu {
inline namespace SEQTRAIN_CPU_VARIANT {

#if SEQTRAIN_CPU_AVX512
using FloatVector = __m512;
inline constexpr int kFloatLanes = 16;
inline FloatVector fused_multiply_add(FloatVector a, FloatVector b, FloatVector c) {
  return _mm512_fmadd_ps(a, b, c);
}
#elif SEQTRAIN_CPU_AVX2
using FloatVector = __m256;
inline constexpr int kFloatLanes = 8;
inline FloatVector fused_multiply_add(FloatVector a, FloatVector b, FloatVector c) {
  return _mm256_fmadd_ps(a, b, c);
}
#else
using FloatVector = float __attribute__((vector_size(16)));
inline constexpr int kFloatLanes = 4;
inline FloatVector fused_multiply_add(FloatVector a, FloatVector b, FloatVector c) {
  return a * b + c;
}
#endif

inline FloatVector load_floats(const float* source) {
#if SEQTRAIN_CPU_AVX512
  return _mm512_loadu_ps(source);
#elif SEQTRAIN_CPU_AVX2
  return _mm256_loadu_ps(source);
#else
  FloatVector v;
  std::memcpy(&v, source, sizeof(v));
  return v;
#endif
}

inline void store_floats(float* target, FloatVector v) {
#if SEQTRAIN_CPU_AVX512
  _mm512_storeu_ps(target, v);
#elif SEQTRAIN_CPU_AVX2
  _mm256_storeu_ps(target, v);
#else
  std::memcpy(target, &v, sizeof(v));
#endif
}

// Every lane = *source. (Not FloatVector{} + x: adding +0 is not the identity
// for -0, so the compiler keeps a scalar add in front of the broadcast.)
inline FloatVector broadcast_float(const float* source) {
#if SEQTRAIN_CPU_AVX512
  return _mm512_set1_ps(*source);
#elif SEQTRAIN_CPU_AVX2
  return _mm256_broadcast_ss(source);
#else
  const float x = *source;
  return FloatVector{x, x, x, x};
#endif
}

inline FloatVector maximum_floats(FloatVector a, FloatVector b) {
#if SEQTRAIN_CPU_AVX512
  // The masked form: g++ 12's _mm512_max_ps reads an undefined register and
  // trips -Wmaybe-uninitialized (GCC bug 105593).
  return _mm512_mask_max_ps(a, static_cast<__mmask16>(0xFFFF), a, b);
#elif SEQTRAIN_CPU_AVX2
  return _mm256_max_ps(a, b);
#else
  return a > b ? a : b;
#endif
}

// max over x[0 .. count), count >= 1. (A plain max loop stays scalar: g++
// does not reorder float max reductions without -ffast-math.)
inline float maximum_of(const float* x, std::int64_t count) {
  float result = x[0];
  std::int64_t i = 0;
  if (count >= kFloatLanes) {
    FloatVector block = load_floats(x);
    for (i = kFloatLanes; i + kFloatLanes <= count; i += kFloatLanes)
      block = maximum_floats(block, load_floats(x + i));
    alignas(64) float lanes[kFloatLanes];
    store_floats(lanes, block);
    for (float lane : lanes) result = lane > result ? lane : result;
  }
  for (; i < count; ++i) result = x[i] > result ? x[i] : result;
  return result;
}

// target[c * stride + u] = rows[u][column + c] for u, c < 8: an 8 x 8 block
// transposed in registers (AVX2: unpack, shuffle, swap 128-bit halves).
inline void transpose_8x8(const float* const rows[8], std::int64_t column, float* target,
                          std::int64_t stride) {
#if SEQTRAIN_CPU_AVX2
  __m256 r[8], t[8];
  for (int u = 0; u < 8; ++u) r[u] = _mm256_loadu_ps(rows[u] + column);
  for (int u = 0; u < 8; u += 2) {
    t[u] = _mm256_unpacklo_ps(r[u], r[u + 1]);      // a0 b0 a1 b1 | a4 b4 a5 b5
    t[u + 1] = _mm256_unpackhi_ps(r[u], r[u + 1]);  // a2 b2 a3 b3 | a6 b6 a7 b7
  }
  for (int u = 0; u < 8; u += 4) {
    r[u] = _mm256_shuffle_ps(t[u], t[u + 2], 0x44);      // a0 b0 c0 d0 | a4 b4 c4 d4
    r[u + 1] = _mm256_shuffle_ps(t[u], t[u + 2], 0xEE);  // a1 b1 c1 d1 | a5 b5 c5 d5
    r[u + 2] = _mm256_shuffle_ps(t[u + 1], t[u + 3], 0x44);
    r[u + 3] = _mm256_shuffle_ps(t[u + 1], t[u + 3], 0xEE);
  }
  for (int c = 0; c < 4; ++c) {
    _mm256_storeu_ps(target + c * stride, _mm256_permute2f128_ps(r[c], r[c + 4], 0x20));
    _mm256_storeu_ps(target + (c + 4) * stride, _mm256_permute2f128_ps(r[c], r[c + 4], 0x31));
  }
#else
  for (int c = 0; c < 8; ++c)
    for (int u = 0; u < 8; ++u) target[c * stride + u] = rows[u][column + c];
#endif
}

}  // namespace SEQTRAIN_CPU_VARIANT
}  // namespace seqtrain::cpu
