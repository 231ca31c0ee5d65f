// The widest float vector the build targets, for register-blocked kernels whose
// accumulators must stay in registers (attention's tile products). Loops that
// the compiler vectorises on its own do not need this; these kernels keep a
// 4 x 2 block of accumulators live across the whole depth loop, which g++ only
// does reliably when the vectors are spelled out.
//   AVX-512F     16 lanes, fused multiply-add
//   AVX2 + FMA    8 lanes, fused multiply-add (-march=x86-64-v3 and newer)
//   otherwise     4 lanes (g++'s generic vectors: SSE2), multiply then add
#pragma once

#include <cstring>

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

namespace seqtrain::cpu {

#if defined(__AVX512F__)
using FloatVector = __m512;
inline constexpr int kFloatLanes = 16;
inline FloatVector fused_multiply_add(FloatVector a, FloatVector b, FloatVector c) {
  return _mm512_fmadd_ps(a, b, c);
}
#elif defined(__AVX2__) && defined(__FMA__)
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
  FloatVector v;
  std::memcpy(&v, source, sizeof(v));
  return v;
}

inline void store_floats(float* target, FloatVector v) {
  std::memcpy(target, &v, sizeof(v));
}

inline FloatVector broadcast_float(float x) {
  return FloatVector{} + x;
}

}  // namespace seqtrain::cpu
