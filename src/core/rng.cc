#include "seqtrain/rng.h"

#include <cmath>
#include <numbers>

namespace seqtrain {

std::array<std::uint32_t, 4> philox4x32(std::uint64_t key, std::uint64_t counter_high,
                                         std::uint64_t counter_low) {
  const PhiloxWords words = philox4x32_words(key, counter_high, counter_low);
  return {words.word[0], words.word[1], words.word[2], words.word[3]};
}

std::uint32_t Rng::bits_at(std::uint64_t index) const {
  return philox4x32(seed_, stream_, index / 4)[index % 4];
}

float Rng::uniform_at(std::uint64_t index) const { return bits_to_uniform(bits_at(index)); }

float Rng::next_normal() {
  // Box-Muller on two uniforms; 1 - u keeps the logarithm finite.
  float u1 = 1.0f - next_uniform();
  float u2 = next_uniform();
  return std::sqrt(-2.0f * std::log(u1)) * std::cos(2.0f * std::numbers::pi_v<float> * u2);
}

std::uint64_t Rng::next_below(std::uint64_t bound) {
  // 64 random bits modulo bound: the bias is below 2^-32 for the bounds we use.
  std::uint64_t high = next_bits();
  std::uint64_t low = next_bits();
  return ((high << 32) | low) % bound;
}

}  // namespace seqtrain
