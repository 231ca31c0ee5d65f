// Float exp, tanh, erf, sigmoid and GELU written as straight-line arithmetic
// (no libm calls, no branches), so g++ -O3 -march=native vectorises any loop
// that calls them. libm's expf/tanhf/erff are scalar calls without
// -ffast-math, and they dominate softmax, cross-entropy and the activations.
//
// No branches, not even std::min/std::max: g++ threads the constant bound of
// a clamp into the code after it, and the resulting control flow cannot be
// if-converted without -fno-trapping-math, so the loop stays scalar. Clamps
// select bit patterns instead (select_float), which also lets NaN through:
// NaN in gives NaN out, so a diverging run stays visible.
//
// Accuracy against libm, measured over [-20, 20] (tests/ops_backend_test.cc
// keeps these bounds):
//   fast_exp     relative error <= 2e-7 down to 2^-126, then 0; saturates at 88.37
//   fast_tanh    absolute error <= 3e-7
//   fast_erf     absolute error <= 4e-7
// The formulas the results approximate are those of seqtrain/activation_math.h.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

#include "backends/cpu/cpu_variant.h"

namespace seqtrain::cpu {
inline namespace SEQTRAIN_CPU_VARIANT {

// condition ? if_true : if_false, as bit operations.
inline float select_float(bool condition, float if_true, float if_false) {
  const std::int32_t mask = -static_cast<std::int32_t>(condition);
  return std::bit_cast<float>((std::bit_cast<std::int32_t>(if_true) & mask) |
                              (std::bit_cast<std::int32_t>(if_false) & ~mask));
}

// low <= result <= high; NaN stays NaN (both comparisons are false).
inline float clamp_float(float x, float low, float high) {
  x = select_float(x < low, low, x);
  return select_float(high < x, high, x);
}

// exp(x) = 2^n * exp(r), n = round(x / ln 2), r = x - n ln 2 in [-ln2/2, ln2/2]
// (Cody-Waite split of ln 2), exp(r) by Cephes' degree-6 polynomial, 2^n built
// in the exponent bits. Rounding uses the 1.5 * 2^23 trick because floorf and
// nearbyintf do not vectorise without -fno-trapping-math.
inline float fast_exp(float x) {
  // Below about -87.7, n = -127 gives zero exponent bits: results under 2^-126
  // (denormals) flush to 0. Above kHighest, 2^n would overflow the exponent.
  constexpr float kLowest = -88.0f;
  constexpr float kHighest = 88.37f;
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kRoundMagic = 12582912.0f;  // 1.5 * 2^23
  constexpr float kLn2High = 0.693359375f;
  constexpr float kLn2Low = -2.12194440e-4f;
  const float clamped = clamp_float(x, kLowest, kHighest);
  const float shifted = std::fma(clamped, kLog2e, kRoundMagic);
  const float n = shifted - kRoundMagic;
  const std::int32_t n_bits = std::bit_cast<std::int32_t>(shifted) - 0x4B400000;
  float r = std::fma(n, -kLn2High, clamped);
  r = std::fma(n, -kLn2Low, r);
  float p = 1.9875691500e-4f;
  p = std::fma(p, r, 1.3981999507e-3f);
  p = std::fma(p, r, 8.3334519073e-3f);
  p = std::fma(p, r, 4.1665795894e-2f);
  p = std::fma(p, r, 1.6666665459e-1f);
  p = std::fma(p, r, 5.0000001201e-1f);
  const float exp_r = std::fma(p * r, r, r) + 1.0f;
  const float two_to_n = std::bit_cast<float>((n_bits + 127) << 23);
  return exp_r * two_to_n;
}

inline float fast_sigmoid(float x) {
  return 1.0f / (1.0f + fast_exp(-x));
}

// tanh by a [13/6] rational approximation on [-7.9, 7.9] (Eigen's
// generic_fast_tanh_float); |tanh(x)| rounds to 1 beyond that range.
inline float fast_tanh(float x) {
  constexpr float kClamp = 7.90531110763549805f;
  const float c = clamp_float(x, -kClamp, kClamp);
  const float c2 = c * c;
  float p = -2.76076847742355e-16f;
  p = std::fma(c2, p, 2.00018790482477e-13f);
  p = std::fma(c2, p, -8.60467152213735e-11f);
  p = std::fma(c2, p, 5.12229709037114e-08f);
  p = std::fma(c2, p, 1.48572235717979e-05f);
  p = std::fma(c2, p, 6.37261928875436e-04f);
  p = std::fma(c2, p, 4.89352455891786e-03f);
  p = p * c;
  float q = 1.19825839466702e-06f;
  q = std::fma(c2, q, 1.18534705686654e-04f);
  q = std::fma(c2, q, 2.26843463243900e-03f);
  q = std::fma(c2, q, 4.89352518554385e-03f);
  return p / q;
}

// erf by a [13/8] rational approximation on [-4, 4] (Eigen's
// generic_fast_erf_float); |erf(x)| rounds to 1 beyond that range.
inline float fast_erf(float x) {
  const float c = clamp_float(x, -4.0f, 4.0f);
  const float c2 = c * c;
  float p = -2.72614225801306e-10f;
  p = std::fma(c2, p, 2.77068142495902e-08f);
  p = std::fma(c2, p, -2.10102402082508e-06f);
  p = std::fma(c2, p, -5.69250639462346e-05f);
  p = std::fma(c2, p, -7.34990630326855e-04f);
  p = std::fma(c2, p, -2.95459980854025e-03f);
  p = std::fma(c2, p, -1.60960333262415e-02f);
  p = p * c;
  float q = -1.45660718464996e-05f;
  q = std::fma(c2, q, -2.13374055278905e-04f);
  q = std::fma(c2, q, -1.68282697438203e-03f);
  q = std::fma(c2, q, -7.37332916720468e-03f);
  q = std::fma(c2, q, -1.42647390514189e-02f);
  return p / q;
}

// GELU (erf form): 0.5 x (1 + erf(x / sqrt 2)).
inline float fast_gelu(float x) {
  return 0.5f * x * (1.0f + fast_erf(x * 0.70710678118654752f));
}

// d GELU / dx = Phi(x) + x phi(x).
inline float fast_gelu_derivative(float x) {
  const float cdf = 0.5f * (1.0f + fast_erf(x * 0.70710678118654752f));
  const float pdf = 0.39894228040143268f * fast_exp(-0.5f * x * x);
  return std::fma(x, pdf, cdf);
}

}  // namespace SEQTRAIN_CPU_VARIANT
}  // namespace seqtrain::cpu
