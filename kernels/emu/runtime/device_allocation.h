// One emulated cudaMalloc allocation and the guard zones around it, so that a
// kernel writing past either end of its tensor is caught instead of silently
// corrupting a neighbour (on a GPU such a write lands in whatever lies there).
// Host memory, laid out as
//
//   [front guard: kGuardBytes][in use: what its holder may touch][back guard]
//   ^ base                    ^ user(): 256-byte aligned, as cudaMalloc's
//
// The back guard runs from the end of what is in use to at least kGuardBytes
// past the end of the allocation. Guard bytes hold kGuardByte. What is in use
// is the whole allocation, unless the CUDA backend's caching allocator hands
// the block out for fewer bytes (hand_out: a 148-byte tensor in a 512-byte
// size class), then the rest of the block is guard zone too, so a write one
// element past a tensor's end is caught whatever its size class.
// emulated_runtime.cc checks every allocation's guards after every kernel
// launch and at cudaFree.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace seqtrain::emu::runtime {

class DeviceAllocation {
 public:
  static constexpr std::size_t kGuardBytes = 256;  // a multiple of cudaMalloc's alignment

  // size bytes (> 0) in use, every one 0xFF (NaN as float and bf16, so reading
  // memory nothing wrote shows), guards filled. Throws std::bad_alloc.
  explicit DeviceAllocation(std::size_t size);

  std::byte* user() const { return memory_.get() + kGuardBytes; }
  // The bytes cudaMalloc was asked for.
  std::size_t size() const { return size_; }
  // The bytes its current holder may touch: size(), or fewer after hand_out.
  std::size_t in_use() const { return in_use_; }

  // bytes (at most size()) of the allocation now belong to holder ("tensor",
  // "scratch", ...; a string literal); the rest becomes back guard. Bytes
  // that were guard and are now in use read 0xFF, as fresh memory does.
  void hand_out(std::size_t bytes, const char* holder);

  // Which guard bytes differ from kGuardByte, as a sentence ("4 guard bytes
  // changed, from 0 to 3 bytes past the end of ..."), or empty when all hold.
  std::string guard_damage() const;
  // Fills both guard zones again (after a damage was reported, so the next
  // check reports only new damage).
  void repair_guards();

  // "a 148-byte tensor (a caching-allocator block of 512 bytes at 0x...)" or
  // "a 100-byte cudaMalloc allocation at 0x...".
  std::string description() const;

 private:
  struct FreeMemory {
    void operator()(std::byte* memory) const;
  };

  std::byte* back_guard_begin() const { return user() + in_use_; }
  std::byte* end() const { return memory_.get() + total_bytes_; }

  std::unique_ptr<std::byte[], FreeMemory> memory_;
  std::size_t size_ = 0;
  std::size_t total_bytes_ = 0;
  std::size_t in_use_ = 0;
  const char* holder_ = nullptr;  // null: the whole allocation, as cudaMalloc gave it
};

}  // namespace seqtrain::emu::runtime
