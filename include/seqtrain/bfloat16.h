// bf16 (bfloat16: an IEEE fp32's sign, exponent and top 7 mantissa bits) on
// the host: conversions with round to nearest even, as __float2bfloat16 and
// oneDNN round. NaN stays NaN (quiet); infinities and zeros keep their sign.
#pragma once

#include <bit>
#include <cstdint>

namespace seqtrain {

inline std::uint16_t bf16_bits_of(float x) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(x);
  if ((bits & 0x7F800000u) == 0x7F800000u && (bits & 0x007FFFFFu) != 0)
    return static_cast<std::uint16_t>((bits >> 16) | 0x0040u);  // NaN: keep it quiet
  const std::uint32_t rounding = 0x7FFFu + ((bits >> 16) & 1u);
  return static_cast<std::uint16_t>((bits + rounding) >> 16);
}

inline float float_of_bf16_bits(std::uint16_t bits) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16);
}

// x rounded to the nearest bf16, as a float.
inline float round_to_bf16(float x) { return float_of_bf16_bits(bf16_bits_of(x)); }

}  // namespace seqtrain
