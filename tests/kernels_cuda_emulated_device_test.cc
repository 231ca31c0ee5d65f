// What only the emulated device shows of the CUDA backend: cuDNN refused in
// one line (the emulation has no cuDNN), the out-of-memory message at a set
// capacity, device selection with the emulated device (linked in) and
// without a driver.
// seqtrain_kernel_tests only; the device-neutral tests are in
// kernels_cuda_backend_test.cc.
#include <cuda_runtime_api.h>

#include "backends/cuda/cuda_backend.h"
#include "backends/cuda_plugin.h"
#include "backends/device_selection.h"
#include "cuda_backend_test_support.h"
#include "kernels/emu/runtime/emulated_device.h"
#include "test_support.h"

namespace seqtrain::testing {
namespace {

// cuDNN's layer (cudnn_rnn.h) runs on a GPU only: the emulated device, which
// has the rest of the backend, says so in one line instead of failing inside.
TEST(CudaBackendRnnCudnn, TheEmulatedDeviceSaysCudnnIsNotEmulated) {
  RnnCase c;
  RnnTensors host = make_rnn_inputs(c);
  CudaBackend cudnn(0, RnnImpl::cudnn);
  EXPECT_EQ(cudnn.recurrent_impl(), RnnImpl::cudnn);
  RnnTensors on_cudnn;
  for (const auto& [name, tensor] : host.t) on_cudnn.t[name] = to_device(cudnn, tensor);
  try {
    run_rnn(cudnn, c, on_cudnn);
    FAIL() << "the emulated device ran cuDNN";
  } catch (const DeviceError& error) {
    EXPECT_EQ(std::string(error.what()),
              "model.impl: cudnn is not available: the emulated device does not emulate cuDNN (it "
              "runs on a GPU only); use model.impl: fused");
  }
  // A backend with the fused layers runs the same layer.
  CudaBackend cuda(0);
  EXPECT_EQ(cuda.recurrent_impl(), RnnImpl::fused);
  RnnTensors on_device;
  for (const auto& [name, tensor] : host.t) on_device.t[name] = to_device(cuda, tensor);
  run_rnn(cuda, c, on_device);
}

TEST(CudaBackendMemory, OutOfMemoryNamesRequestedFreeAndCachedBytes) {
  CudaBackend cuda(0);
  emu::ScopedDeviceMemoryCapacity capacity(emu::device_memory_in_use() + (8 << 20));
  Tensor held = cuda.allocate({1 << 20}, DType::f32);        // 4 MiB in use
  { Tensor cached = cuda.allocate({1 << 19}, DType::f32); }  // 2 MiB cached
  // 3 MiB fits only once the cache is released.
  Tensor fits_after_release = cuda.allocate({3 << 18}, DType::f32);
  const cuda::DeviceAllocatorStats held_now = cuda.allocator_stats();
  EXPECT_EQ(held_now.cached_blocks, 0u);
  try {
    Tensor too_big = cuda.allocate({1 << 20}, DType::f32);
    FAIL() << "no error allocating past the device's capacity";
  } catch (const DeviceError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("out of CUDA memory"), std::string::npos) << message;
    EXPECT_NE(message.find("allocating 4194304 bytes"), std::string::npos) << message;
    EXPECT_NE(message.find("the device has 1.0 MiB free of"), std::string::npos) << message;
    EXPECT_NE(message.find(fmt::format("seqtrain holds 7.0 MiB in {} blocks in use",
                                       held_now.in_use_blocks)),
              std::string::npos)
        << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << "one line: " << message;
  }
}

// ---- device selection ------------------------------------------------------------

// Linked in, not loaded as the plug-in (cuda_linked_backend.cc registers it).
TEST(EmulatedCudaBackend, DeviceSelectionReachesTheLinkedVariant) {
  EXPECT_EQ(cuda_plugin().path, "linked in");
  EXPECT_TRUE(cuda_backend_available());
  const CudaDeviceQuery devices = query_cuda_devices();
  EXPECT_GE(devices.count, 1) << devices.description;
  EXPECT_EQ(select_backend("cuda", 1)->name(), "cuda");
}


TEST(CudaDeviceSelection, AutoPicksTheEmulatedDevice) {
  const CudaDeviceQuery devices = query_cuda_devices();
  EXPECT_EQ(devices.count, 1);
  EXPECT_NE(devices.description.find("seqtrain emulated device"), std::string::npos)
      << devices.description;
  EXPECT_EQ(select_backend("auto", 1)->name(), "cuda");
  EXPECT_EQ(select_backend("cuda:0", 1)->device(), Device::cuda);
  EXPECT_THROW(select_backend("cuda:1", 1), DeviceError);
  EXPECT_THROW(select_backend("cuda:x", 1), Error);
}

// Under mpirun, rank r of a node takes device local_rank % devices, with
// --device cuda and auto; cuda:N stays N.
TEST(CudaDeviceSelection, EachLocalRankTakesItsDeviceModuloTheDeviceCount) {
  emu::set_device_count(3);
  struct Restore {
    ~Restore() { emu::set_device_count(1); }
  } restore;
  for (int local_rank : {0, 1, 2, 3, 5}) {
    for (const char* device : {"cuda", "auto"}) {
      auto backend = select_backend(device, 1, RnnImpl::fused, local_rank);
      EXPECT_EQ(static_cast<CudaBackend&>(*backend).device_index(), local_rank % 3)
          << device << ", local rank " << local_rank;
    }
  }
  auto pinned = select_backend("cuda:1", 1, RnnImpl::fused, 2);
  EXPECT_EQ(static_cast<CudaBackend&>(*pinned).device_index(), 1);
}

TEST(CudaDeviceSelection, WithoutADriverCudaIsAOneLineErrorAndAutoFallsBack) {
  emu::set_driver_missing(true);
  struct Restore {
    ~Restore() { emu::set_driver_missing(false); }
  } restore;
  try {
    select_backend("cuda", 1);
    FAIL() << "no error for --device cuda without a driver";
  } catch (const DeviceError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("--device cuda: no device"), std::string::npos) << message;
    EXPECT_NE(message.find("cudaErrorInsufficientDriver"), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
  EXPECT_EQ(cudaGetLastError(), cudaSuccess) << "the runtime's error was not cleared";
  EXPECT_EQ(select_backend("auto", 1)->name(), "cpu");
}

}  // namespace
}  // namespace seqtrain::testing
