// The CUDA entry points device selection calls (backends/device_selection.h):
// defined here, in the CUDA backend, so that the core library never links the
// CUDA runtime itself. Whichever variant of the backend a binary links (the
// real runtime, or the emulated device in seqtrain_kernel_tests) answers.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/cuda_build_info.h"
#include "backends/device_selection.h"

namespace seqtrain {

bool cuda_backend_built() {
  return true;
}

std::string describe_cuda_build() {
  const CudaBuildInfo info = cuda_build_info();
  return fmt::format("kernels for {}; CUDA runtime {} (driver {}), cuBLAS {}, cuDNN {}, NCCL {}",
                     info.architectures, info.runtime, info.driver, info.cublas, info.cudnn,
                     info.nccl);
}

CudaDeviceQuery query_cuda_devices() {
  CudaDeviceQuery query;
  query.description = list_cuda_devices(query.count);
  return query;
}

std::unique_ptr<Backend> make_cuda_backend(int device_index, RnnImpl recurrent_impl) {
  auto backend = std::make_unique<CudaBackend>(device_index, recurrent_impl);
  spdlog::info("cuda backend on {}", backend->description());
  return backend;
}

}  // namespace seqtrain
