#include "backends/cuda/device_allocator.h"

#include <fmt/format.h>

#include <bit>

#include "kernels/cuda_check.h"
#include "seqtrain/error.h"

#if SEQTRAIN_EMULATED_DEVICE
#include "kernels/emu/runtime/emulated_device.h"
#endif

namespace seqtrain::cuda {
namespace {

constexpr std::size_t kSmallGranule = 512;
constexpr std::size_t kSmallLimit = std::size_t{1} << 20;
constexpr int kClassesPerDoubling = 8;

std::string mib(std::size_t bytes) {
  return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1 << 20));
}

}  // namespace

std::shared_ptr<DeviceAllocator> DeviceAllocator::create(int device) {
  return std::shared_ptr<DeviceAllocator>(new DeviceAllocator(device));
}

DeviceAllocator::~DeviceAllocator() {
  std::lock_guard lock(mutex_);
  release_cached_locked();
}

std::size_t DeviceAllocator::size_class(std::size_t bytes) {
  if (bytes <= kSmallLimit) return (bytes + kSmallGranule - 1) / kSmallGranule * kSmallGranule;
  const std::size_t step = std::bit_floor(bytes) / kClassesPerDoubling;
  return (bytes + step - 1) / step * step;
}

std::shared_ptr<void> DeviceAllocator::allocate(std::size_t bytes, cudaStream_t stream,
                                                [[maybe_unused]] const char* holder) {
  if (bytes == 0) return nullptr;
  const std::size_t rounded = size_class(bytes);
  void* pointer = nullptr;
  {
    std::lock_guard lock(mutex_);
    auto found = free_blocks_.find({stream, rounded});
    if (found != free_blocks_.end() && !found->second.empty()) {
      pointer = found->second.back();
      found->second.pop_back();
      stats_.cached_bytes -= rounded;
      --stats_.cached_blocks;
    } else {
      CUDA_CHECK(cudaSetDevice(device_));
      cudaError_t status = cudaMalloc(&pointer, rounded);
      std::size_t released = 0;
      if (status == cudaErrorMemoryAllocation && stats_.cached_blocks > 0) {
        static_cast<void>(cudaGetLastError());
        released = stats_.cached_bytes;
        release_cached_locked();
        status = cudaMalloc(&pointer, rounded);
      }
      if (status == cudaErrorMemoryAllocation)
        throw_out_of_memory(bytes, rounded, status, released);
      CUDA_CHECK(status);
      ++stats_.device_mallocs;
    }
    stats_.in_use_bytes += rounded;
    ++stats_.in_use_blocks;
    stats_.peak_in_use_bytes = std::max(stats_.peak_in_use_bytes, stats_.in_use_bytes);
  }
  std::shared_ptr<DeviceAllocator> self = shared_from_this();
  std::shared_ptr<void> block(
      pointer, [self, rounded, stream](void* block) { self->give_back(block, rounded, stream); });
#if SEQTRAIN_EMULATED_DEVICE
  // If it throws (the block's guards were damaged), block goes back to the cache.
  emu::hand_out_device_block(pointer, bytes, holder);
#endif
  return block;
}

void DeviceAllocator::give_back(void* pointer, std::size_t size, cudaStream_t stream) {
  std::lock_guard lock(mutex_);
  free_blocks_[{stream, size}].push_back(pointer);
  stats_.in_use_bytes -= size;
  --stats_.in_use_blocks;
  stats_.cached_bytes += size;
  ++stats_.cached_blocks;
}

void DeviceAllocator::release_cached() {
  std::lock_guard lock(mutex_);
  release_cached_locked();
}

void DeviceAllocator::release_cached_locked() {
  // A destructor path too: report nothing, free what can be freed.
  for (auto& [key, blocks] : free_blocks_)
    for (void* block : blocks) static_cast<void>(cudaFree(block));
  static_cast<void>(cudaGetLastError());
  free_blocks_.clear();
  stats_.cached_bytes = 0;
  stats_.cached_blocks = 0;
}

DeviceAllocatorStats DeviceAllocator::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void DeviceAllocator::throw_out_of_memory(std::size_t requested, std::size_t rounded,
                                          cudaError_t status, std::size_t released) const {
  static_cast<void>(cudaGetLastError());
  std::size_t free = 0, total = 0;
  std::string device_memory;
  if (cudaMemGetInfo(&free, &total) == cudaSuccess)
    device_memory = fmt::format("the device has {} free of {}", mib(free), mib(total));
  else
    device_memory = "cudaMemGetInfo failed too";
  static_cast<void>(cudaGetLastError());
  throw DeviceError(fmt::format(
      "out of CUDA memory on device {}: allocating {} bytes ({} rounded to {}) failed with {}; {}; "
      "seqtrain holds {} in {} blocks in use, and released {} of cached blocks before retrying. "
      "Reduce the batch size or sequence length",
      device_, requested, mib(requested), mib(rounded), cudaGetErrorName(status), device_memory,
      mib(stats_.in_use_bytes), stats_.in_use_blocks, mib(released)));
}

}  // namespace seqtrain::cuda
