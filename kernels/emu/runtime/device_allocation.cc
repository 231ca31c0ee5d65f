#include "kernels/emu/runtime/device_allocation.h"

#include <fmt/format.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "seqtrain/error.h"

namespace seqtrain::emu::runtime {
namespace {

constexpr std::size_t kAllocationAlignment = 256;  // what cudaMalloc guarantees
constexpr std::uint64_t kGuardWord = 0x0101010101010101ull * DeviceAllocation::kGuardByte;

// Offsets from begin of the bytes in [begin, end) that are not the guard byte.
// Guards are checked after every launch: whole words are compared first.
std::vector<std::size_t> changed_offsets(const std::byte* begin, const std::byte* end) {
  std::vector<std::size_t> changed;
  const std::byte* p = begin;
  for (; p + sizeof(std::uint64_t) <= end; p += sizeof(std::uint64_t)) {
    std::uint64_t word;
    std::memcpy(&word, p, sizeof(word));
    if (word == kGuardWord) continue;
    for (std::size_t k = 0; k < sizeof(word); ++k)
      if (p[k] != std::byte{DeviceAllocation::kGuardByte})
        changed.push_back(static_cast<std::size_t>(p + k - begin));
  }
  for (; p < end; ++p)
    if (*p != std::byte{DeviceAllocation::kGuardByte})
      changed.push_back(static_cast<std::size_t>(p - begin));
  return changed;
}

}  // namespace

void DeviceAllocation::FreeMemory::operator()(std::byte* memory) const {
  std::free(memory);
}

DeviceAllocation::DeviceAllocation(std::size_t size) : size_(size), in_use_(size) {
  SEQTRAIN_CHECK(size > 0, "an emulated device allocation of 0 bytes");
  const std::size_t rounded =
      (size + kAllocationAlignment - 1) / kAllocationAlignment * kAllocationAlignment;
  total_bytes_ = kGuardBytes + rounded + kGuardBytes;
  memory_.reset(static_cast<std::byte*>(std::aligned_alloc(kAllocationAlignment, total_bytes_)));
  if (memory_ == nullptr) throw std::bad_alloc();
  std::memset(user(), 0xFF, size_);
  repair_guards();
}

void DeviceAllocation::hand_out(std::size_t bytes, const char* holder) {
  SEQTRAIN_CHECK(bytes <= size_, "handing out {} bytes of {}", bytes, description());
  if (bytes > in_use_) std::memset(back_guard_begin(), 0xFF, bytes - in_use_);
  in_use_ = bytes;
  holder_ = holder;
  std::memset(back_guard_begin(), kGuardByte, static_cast<std::size_t>(end() - back_guard_begin()));
}

std::string DeviceAllocation::guard_damage() const {
  std::string damage;
  // Distances from the start, counted as "1 byte before" for the byte just before it.
  const std::vector<std::size_t> front = changed_offsets(memory_.get(), user());
  if (!front.empty())
    damage = fmt::format("{} guard bytes changed, from {} to {} bytes before the start",
                         front.size(), kGuardBytes - front.back(), kGuardBytes - front.front());
  const std::vector<std::size_t> back = changed_offsets(back_guard_begin(), end());
  if (!back.empty())
    damage += fmt::format("{}{} guard bytes changed, from {} to {} bytes past the end",
                          damage.empty() ? "" : " and ", back.size(), back.front(), back.back());
  if (damage.empty()) return damage;
  return fmt::format("{} of {}", damage, description());
}

void DeviceAllocation::repair_guards() {
  std::memset(memory_.get(), kGuardByte, kGuardBytes);
  std::memset(back_guard_begin(), kGuardByte, static_cast<std::size_t>(end() - back_guard_begin()));
}

std::string DeviceAllocation::description() const {
  if (holder_ == nullptr)
    return fmt::format("a {}-byte cudaMalloc allocation at {}", size_,
                       static_cast<const void*>(user()));
  return fmt::format("a {}-byte {} (a caching-allocator block of {} bytes at {})", in_use_, holder_,
                     size_, static_cast<const void*>(user()));
}

}  // namespace seqtrain::emu::runtime
