#include "backends/cpu/scratch_buffer.h"

#include "seqtrain/guard_zone.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "seqtrain/error.h"
#include "seqtrain/guard_zone.h"

namespace seqtrain::cpu {
namespace {

constexpr std::size_t kAlignment = 64;

}  // namespace

void ScratchBuffer::FreeMemory::operator()(std::byte* memory) const {
  std::free(memory);
}

ScratchBuffer::~ScratchBuffer() {
  if (guards_ == ScratchGuards::off || memory_ == nullptr) return;
  const std::string damage = guard_damage();
  if (damage.empty()) return;
  // A destructor cannot throw; a memory corruption must not pass unnoticed.
  std::fprintf(stderr, "fatal: %s\n", damage.c_str());
  std::abort();
}

std::byte* ScratchBuffer::user_begin() const {
  return memory_.get() + (guards_ == ScratchGuards::on ? kGuardBytes : 0);
}

std::byte* ScratchBuffer::reserve_bytes(std::size_t bytes, const std::source_location& user) {
  if (guards_ == ScratchGuards::on) check_guards();
  if (memory_ == nullptr || bytes > capacity_) {
    capacity_ =
        std::max<std::size_t>((bytes + kAlignment - 1) / kAlignment * kAlignment, kAlignment);
    total_bytes_ = capacity_ + (guards_ == ScratchGuards::on ? 2 * kGuardBytes : 0);
    memory_.reset(static_cast<std::byte*>(std::aligned_alloc(kAlignment, total_bytes_)));
    if (memory_ == nullptr) throw std::bad_alloc();
  }
  in_use_ = bytes;
  user_ = user;
  if (guards_ == ScratchGuards::on) fill_guards();
  return user_begin();
}

void ScratchBuffer::check_guards() {
  if (guards_ == ScratchGuards::off || memory_ == nullptr) return;
  const std::string damage = guard_damage();
  if (damage.empty()) return;
  fill_guards();
  throw InternalError(damage);
}

std::string ScratchBuffer::guard_damage() const {
  const std::string damage =
      describe_guard_damage(memory_.get(), user_begin(), back_guard_begin(), end());
  if (damage.empty()) return damage;
  return fmt::format(
      "cpu backend: {} written outside what its user reserved: {} of the {} bytes reserved by {} "
      "({}:{})",
      name_, damage, in_use_, user_.function_name(), user_.file_name(), user_.line());
}

void ScratchBuffer::fill_guards() {
  std::memset(memory_.get(), kGuardByte, kGuardBytes);
  std::memset(back_guard_begin(), kGuardByte, static_cast<std::size_t>(end() - back_guard_begin()));
}

}  // namespace seqtrain::cpu
