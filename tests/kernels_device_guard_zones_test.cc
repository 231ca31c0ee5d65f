// Guard zones on the emulated CUDA device (kernels/emu/runtime/device_allocation.h):
// a kernel that writes one element past the end of its allocation, or before
// its start, fails at once with a DeviceFault naming that kernel and the
// allocation; a write outside an allocation by host code fails at cudaFree;
// a tensor from the CUDA backend's caching allocator is guarded at its own
// end, not at the end of its size class. Faults are planted by the small
// kernels below.
#include <cuda_runtime_api.h>

#include <cstdint>
#include <string>
#include <vector>

#include "backends/cuda/cuda_backend.h"
#include "kernels/emu/runtime/emulated_device.h"
#include "kernels/launch.h"
#include "test_support.h"

namespace seqtrain::testing {
namespace {

using emu::DeviceFault;
using kernels::LaunchConfig;

// Thread 0 stores 1 at data[index]: index count writes one past the end of a
// count-element tensor, -1 one before its start.
__global__ void store_one_at(float* data, std::int64_t index) {
  if (threadIdx.x == 0) data[index] = 1.0f;
}

// Every thread stores its index at data[i] for i < count: a correct kernel.
__global__ void store_indices(float* data, std::int64_t count) {
  const std::int64_t i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < count) data[i] = static_cast<float>(i);
}

const LaunchConfig kOneWarp{dim3(1), dim3(32)};

// The message of the DeviceFault that call throws, or "" if it throws none.
template <class Call>
std::string device_fault_message(Call call) {
  try {
    call();
  } catch (const DeviceFault& fault) {
    return fault.what();
  }
  return {};
}

void* device_malloc(std::size_t bytes) {
  void* pointer = nullptr;
  EXPECT_EQ(cudaMalloc(&pointer, bytes), cudaSuccess);
  return pointer;
}

TEST(DeviceGuardZones, AKernelWritingOnePastTheEndFailsNamingTheKernelAndTheAllocation) {
  auto* data = static_cast<float*>(device_malloc(37 * sizeof(float)));
  const std::string message =
      device_fault_message([&] { SEQTRAIN_LAUNCH(kOneWarp, store_one_at, data, 37); });
  EXPECT_NE(message.find("after kernel store_one_at launched at"), std::string::npos) << message;
  EXPECT_NE(message.find("kernels_device_guard_zones_test.cc:"), std::string::npos) << message;
  EXPECT_NE(message.find("4 guard bytes changed, from 0 to 3 bytes past the end of a 148-byte "
                         "cudaMalloc allocation"),
            std::string::npos)
      << message;
  // Reported once: the guard is repaired, the next launch and the free are clean.
  EXPECT_EQ(device_fault_message([&] { SEQTRAIN_LAUNCH(kOneWarp, store_indices, data, 37); }), "");
  EXPECT_EQ(cudaFree(data), cudaSuccess);
}

TEST(DeviceGuardZones, AKernelWritingBeforeTheStartIsCaught) {
  auto* data = static_cast<float*>(device_malloc(64 * sizeof(float)));
  const std::string message =
      device_fault_message([&] { SEQTRAIN_LAUNCH(kOneWarp, store_one_at, data, -1); });
  EXPECT_NE(message.find("after kernel store_one_at launched at"), std::string::npos) << message;
  EXPECT_NE(message.find("4 guard bytes changed, from 1 to 4 bytes before the start of a "
                         "256-byte cudaMalloc allocation"),
            std::string::npos)
      << message;
  EXPECT_EQ(cudaFree(data), cudaSuccess);
}

TEST(DeviceGuardZones, AWriteOutsideAnAllocationSinceTheLastLaunchIsCaughtAtCudaFree) {
  const std::size_t allocations = emu::device_allocation_count();
  auto* data = static_cast<float*>(device_malloc(10 * sizeof(float)));
  SEQTRAIN_LAUNCH(kOneWarp, store_indices, data, 10);
  // Host code writing through a device pointer (a GPU would crash on it).
  data[10] = 1.0f;
  const std::string message = device_fault_message([&] { static_cast<void>(cudaFree(data)); });
  EXPECT_NE(message.find("found at cudaFree; the last launch was the kernel store_indices "
                         "launched at"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("past the end of a 40-byte cudaMalloc allocation"), std::string::npos)
      << message;
  EXPECT_EQ(emu::device_allocation_count(), allocations) << "freed although it was reported";
}

TEST(DeviceGuardZones, ATensorFromTheCachingAllocatorIsGuardedAtItsOwnEnd) {
  CudaBackend cuda(0);
  // 37 floats in a 512-byte size class: element 37 lies inside the block.
  Tensor tensor = cuda.allocate({37}, DType::f32);
  float* data = tensor.data<float>();
  const std::string message =
      device_fault_message([&] { SEQTRAIN_LAUNCH(kOneWarp, store_one_at, data, 37); });
  EXPECT_NE(message.find("after kernel store_one_at launched at"), std::string::npos) << message;
  EXPECT_NE(message.find("past the end of a 148-byte tensor (a caching-allocator block of 512 "
                         "bytes"),
            std::string::npos)
      << message;
  // Copies end at the tensor too, not at its block.
  std::vector<float> host(38, 0.0f);
  EXPECT_NE(device_fault_message([&] {
              static_cast<void>(
                  cudaMemcpy(data, host.data(), 38 * sizeof(float), cudaMemcpyHostToDevice));
            }).find("reaches 4 bytes past its end"),
            std::string::npos);
}

TEST(DeviceGuardZones, ABlockHandedOutAgainIsGuardedAtItsNewHoldersEnd) {
  CudaBackend cuda(0);
  { Tensor wide = cuda.allocate({120}, DType::f32); }  // 480 bytes, size class 512
  Tensor narrow = cuda.allocate({100}, DType::f32);    // the same block, 400 bytes
  float* data = narrow.data<float>();
  SEQTRAIN_LAUNCH(kOneWarp, store_indices, data, 100);  // within it: no fault
  const std::string message =
      device_fault_message([&] { SEQTRAIN_LAUNCH(kOneWarp, store_one_at, data, 100); });
  EXPECT_NE(message.find("past the end of a 400-byte tensor"), std::string::npos) << message;
}

TEST(DeviceGuardZones, PointersStayAlignedAndFreshMemoryReadsAsNaN) {
  std::vector<void*> pointers;
  for (std::size_t bytes : {1ul, 255ul, 256ul, 257ul, 4099ul}) {
    void* pointer = device_malloc(bytes);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(pointer) % 256, 0u) << bytes;
    EXPECT_EQ(static_cast<const unsigned char*>(pointer)[bytes - 1], 0xFF) << bytes;
    pointers.push_back(pointer);
  }
  for (void* pointer : pointers) EXPECT_EQ(cudaFree(pointer), cudaSuccess);
}

}  // namespace
}  // namespace seqtrain::testing
