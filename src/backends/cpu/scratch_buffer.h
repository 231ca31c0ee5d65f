// Scratch memory the cpu backend keeps between calls (block partial sums, the
// recurrent layer's gathered operands, attention's per-thread slices), so a
// replayed step allocates nothing. One op uses a buffer at a time: each
// reserve hands the whole buffer to a new user, growing it when needed.
//
// Guard zones (ScratchGuards::on, which tests turn on per backend): kGuardBytes
// of kGuardByte before the first element and from the end of what the current
// user asked for to the end of the buffer plus kGuardBytes, so an op writing
// one element past the count it reserved is caught even while the buffer is
// bigger. They are checked at the next reserve (the previous user's writes),
// by check_guards, and when the buffer is destroyed; a changed byte names the
// function that reserved the buffer and how much it asked for. Off (what
// seqtrain runs): no guard bytes, and reserve is a size compare.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <source_location>
#include <string>

namespace seqtrain::cpu {

enum class ScratchGuards { off, on };

class ScratchBuffer {
 public:
  static constexpr std::size_t kGuardBytes = 64;  // keeps the elements 64-byte aligned

  // name says which buffer it is in errors ("reduction scratch").
  ScratchBuffer(const char* name, ScratchGuards guards) : name_(name), guards_(guards) {}
  // With guards, a damage nobody checked for is fatal here: printed, then abort.
  ~ScratchBuffer();
  ScratchBuffer(const ScratchBuffer&) = delete;
  ScratchBuffer& operator=(const ScratchBuffer&) = delete;

  // At least count elements, 64-byte aligned, contents undefined, valid until
  // the next reserve. user names the reserving op in errors. With guards,
  // first throws InternalError if the previous user wrote outside its count.
  template <class T>
  T* reserve(std::int64_t count, const std::source_location& user) {
    return reinterpret_cast<T*>(reserve_bytes(static_cast<std::size_t>(count) * sizeof(T), user));
  }

  // Throws InternalError if a guard byte changed since the last reserve
  // (repaired first, so it is reported once). Nothing to check without guards.
  void check_guards();

 private:
  struct FreeMemory {
    void operator()(std::byte* memory) const;
  };

  std::byte* reserve_bytes(std::size_t bytes, const std::source_location& user);
  // A sentence saying which guard bytes changed and who reserved the buffer,
  // or empty.
  std::string guard_damage() const;
  void fill_guards();
  std::byte* user_begin() const;
  std::byte* back_guard_begin() const { return user_begin() + in_use_; }
  std::byte* end() const { return memory_.get() + total_bytes_; }

  const char* name_;
  ScratchGuards guards_;
  std::unique_ptr<std::byte[], FreeMemory> memory_;
  std::size_t capacity_ = 0;     // bytes a user may be given without growing
  std::size_t total_bytes_ = 0;  // capacity_ plus the guard zones
  std::size_t in_use_ = 0;       // what the current user asked for
  std::source_location user_;
};

}  // namespace seqtrain::cpu
