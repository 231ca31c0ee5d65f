// The CUDA backend's caching device allocator. cudaMalloc and cudaFree
// synchronise the device and cost tens of microseconds, so freed blocks are
// kept in free lists per (stream, size class) and handed out again; a training
// step after the first allocates nothing from the driver.
//
// Size classes: multiples of 512 bytes up to 1 MiB, above that 8 classes per
// power of two (at most 12.5% rounding waste); a request takes a cached block
// of exactly its class, blocks are never split or merged. A block freed from
// the host is reusable at once by later work on the same stream: stream order
// puts that work after every use of the block. (The backend uses one stream.)
//
// Out of memory: the cache is released to the driver and the cudaMalloc
// retried; if it still fails, a DeviceError says how much was requested, what
// cudaMemGetInfo reports free and in total, and what this allocator holds.
//
// On the emulated device (the build with SEQTRAIN_EMULATED_DEVICE) every
// hand-out is reported to it (emulated_device.h's hand_out_device_block), so
// a block's bytes past what was requested are guard zone: a kernel writing
// one element past a tensor is caught although the size class covers it.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace seqtrain::cuda {

struct DeviceAllocatorStats {
  std::size_t in_use_bytes = 0;  // handed out and not yet returned (size classes)
  std::size_t in_use_blocks = 0;
  std::size_t cached_bytes = 0;  // returned, kept for reuse
  std::size_t cached_blocks = 0;
  std::size_t peak_in_use_bytes = 0;
  std::size_t device_mallocs = 0;  // cudaMalloc calls that succeeded
};

class DeviceAllocator : public std::enable_shared_from_this<DeviceAllocator> {
 public:
  // Use create(): blocks keep the allocator alive through shared_from_this.
  static std::shared_ptr<DeviceAllocator> create(int device);
  ~DeviceAllocator();
  DeviceAllocator(const DeviceAllocator&) = delete;
  DeviceAllocator& operator=(const DeviceAllocator&) = delete;

  // At least bytes of device memory for work on stream, 256-byte aligned
  // (contents undefined). The block returns to the cache when the last copy of
  // the pointer is dropped. bytes 0 gives a null pointer. holder says what the
  // memory is for ("tensor", "scratch"; a string literal): the emulated device
  // names it when a kernel writes past it.
  std::shared_ptr<void> allocate(std::size_t bytes, cudaStream_t stream, const char* holder);

  // cudaFree every cached block (blocks in use are untouched).
  void release_cached();
  DeviceAllocatorStats stats() const;

  // The class a request of bytes is rounded up to.
  static std::size_t size_class(std::size_t bytes);

 private:
  explicit DeviceAllocator(int device) : device_(device) {}
  void give_back(void* pointer, std::size_t size, cudaStream_t stream);
  void release_cached_locked();
  [[noreturn]] void throw_out_of_memory(std::size_t requested, std::size_t rounded,
                                        cudaError_t status, std::size_t released) const;

  int device_;
  mutable std::mutex mutex_;
  // (stream, size class) -> free blocks
  std::map<std::pair<cudaStream_t, std::size_t>, std::vector<void*>> free_blocks_;
  DeviceAllocatorStats stats_;
};

}  // namespace seqtrain::cuda
