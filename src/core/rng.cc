#include "seqtrain/rng.h"

#include <cmath>
#include <numbers>

namespace seqtrain {
namespace {

constexpr std::uint32_t kMultiplier0 = 0xD2511F53u;
constexpr std::uint32_t kMultiplier1 = 0xCD9E8D57u;
constexpr std::uint32_t kWeyl0 = 0x9E3779B9u;
constexpr std::uint32_t kWeyl1 = 0xBB67AE85u;

inline void multiply_high_low(std::uint32_t a, std::uint32_t b, std::uint32_t& high,
                              std::uint32_t& low) {
  std::uint64_t product = static_cast<std::uint64_t>(a) * b;
  high = static_cast<std::uint32_t>(product >> 32);
  low = static_cast<std::uint32_t>(product);
}

}  // namespace

std::array<std::uint32_t, 4> philox4x32(std::uint64_t key, std::uint64_t counter_high,
                                         std::uint64_t counter_low) {
  std::uint32_t c0 = static_cast<std::uint32_t>(counter_low);
  std::uint32_t c1 = static_cast<std::uint32_t>(counter_low >> 32);
  std::uint32_t c2 = static_cast<std::uint32_t>(counter_high);
  std::uint32_t c3 = static_cast<std::uint32_t>(counter_high >> 32);
  std::uint32_t k0 = static_cast<std::uint32_t>(key);
  std::uint32_t k1 = static_cast<std::uint32_t>(key >> 32);
  for (int round = 0; round < 10; ++round) {
    std::uint32_t high0, low0, high1, low1;
    multiply_high_low(kMultiplier0, c0, high0, low0);
    multiply_high_low(kMultiplier1, c2, high1, low1);
    std::uint32_t n0 = high1 ^ c1 ^ k0;
    std::uint32_t n1 = low1;
    std::uint32_t n2 = high0 ^ c3 ^ k1;
    std::uint32_t n3 = low0;
    c0 = n0;
    c1 = n1;
    c2 = n2;
    c3 = n3;
    k0 += kWeyl0;
    k1 += kWeyl1;
  }
  return {c0, c1, c2, c3};
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
