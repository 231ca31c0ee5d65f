// Counter-based random numbers (Philox4x32-10, Salmon et al., SC 2011).
// The value at index i of stream s under seed k is a pure function of (k, s, i),
// so results do not depend on how many threads draw them or in which order, and
// a resumed run only needs the seed and the step to draw the same numbers.
#pragma once

#include <array>
#include <cstdint>

#include "seqtrain/philox.h"

namespace seqtrain {

std::array<std::uint32_t, 4> philox4x32(std::uint64_t key, std::uint64_t counter_high,
                                         std::uint64_t counter_low);

// One stream of random numbers. The position is explicit and serialisable.
class Rng {
 public:
  Rng(std::uint64_t seed, std::uint64_t stream) : seed_(seed), stream_(stream) {}

  // Pure accessors: the i-th number of this stream.
  std::uint32_t bits_at(std::uint64_t index) const;
  float uniform_at(std::uint64_t index) const;  // in [0, 1)

  // Sequential draws advance position().
  std::uint32_t next_bits() { return bits_at(position_++); }
  float next_uniform() { return uniform_at(position_++); }
  float next_normal();                                   // standard normal, Box-Muller
  std::uint64_t next_below(std::uint64_t bound);         // uniform in [0, bound)

  std::uint64_t seed() const { return seed_; }
  std::uint64_t stream() const { return stream_; }
  std::uint64_t position() const { return position_; }
  void set_position(std::uint64_t position) { position_ = position; }

 private:
  std::uint64_t seed_;
  std::uint64_t stream_;
  std::uint64_t position_ = 0;
};

}  // namespace seqtrain
