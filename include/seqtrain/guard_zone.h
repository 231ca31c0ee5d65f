// Guard zones: bytes of a known value around a buffer, so a write before its
// start or past its end shows up when they are checked. Test machinery shared
// by the emulated CUDA device's allocations (kernels/emu/runtime/
// device_allocation.h) and the cpu backend's guarded scratch buffers
// (src/backends/cpu/scratch_buffer.h).
#pragma once

#include <fmt/format.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace seqtrain {

inline constexpr unsigned char kGuardByte = 0xA5;

// Offsets from begin of the bytes in [begin, end) that are not kGuardByte.
// The emulated device checks its guards after every kernel launch: whole
// words are compared first.
inline std::vector<std::size_t> changed_guard_offsets(const std::byte* begin,
                                                      const std::byte* end) {
  constexpr std::uint64_t kGuardWord = 0x0101010101010101ull * kGuardByte;
  std::vector<std::size_t> changed;
  const std::byte* p = begin;
  for (; p + sizeof(std::uint64_t) <= end; p += sizeof(std::uint64_t)) {
    std::uint64_t word;
    std::memcpy(&word, p, sizeof(word));
    if (word == kGuardWord) continue;
    for (std::size_t k = 0; k < sizeof(word); ++k)
      if (p[k] != std::byte{kGuardByte}) changed.push_back(static_cast<std::size_t>(p + k - begin));
  }
  for (; p < end; ++p)
    if (*p != std::byte{kGuardByte}) changed.push_back(static_cast<std::size_t>(p - begin));
  return changed;
}

// For a buffer [user_begin, back_begin) between a front guard [front_begin,
// user_begin) and a back guard [back_begin, end): "N guard bytes changed, from
// A to B bytes before the start" and/or "... past the end", counting the byte
// just before the start as 1 before and the byte at the end as 0 past; empty
// when both guards are whole.
inline std::string describe_guard_damage(const std::byte* front_begin, const std::byte* user_begin,
                                         const std::byte* back_begin, const std::byte* end) {
  std::string damage;
  const std::size_t front_size = static_cast<std::size_t>(user_begin - front_begin);
  const std::vector<std::size_t> front = changed_guard_offsets(front_begin, user_begin);
  if (!front.empty())
    damage = fmt::format("{} guard bytes changed, from {} to {} bytes before the start",
                         front.size(), front_size - front.back(), front_size - front.front());
  const std::vector<std::size_t> back = changed_guard_offsets(back_begin, end);
  if (!back.empty())
    damage += fmt::format("{}{} guard bytes changed, from {} to {} bytes past the end",
                          damage.empty() ? "" : " and ", back.size(), back.front(), back.back());
  return damage;
}

}  // namespace seqtrain
