#include "kernels/emu/runtime/device_allocation.h"

#include <fmt/format.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "seqtrain/error.h"
#include "seqtrain/guard_zone.h"

namespace seqtrain::emu::runtime {
namespace {

constexpr std::size_t kAllocationAlignment = 256;  // what cudaMalloc guarantees
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
  const std::string damage =
      describe_guard_damage(memory_.get(), user(), back_guard_begin(), end());
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
