// The CUDA plug-in's entry point (backends/cuda_plugin.h): the table device
// selection calls through. The plug-in (libseqtrain_cuda.so, on the real
// runtime) exports it; seqtrain_kernel_tests links the emulated variant and
// registers the same table with use_linked_cuda_backend.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/cuda_build_info.h"
#include "backends/cuda/nccl_communicator.h"
#include "backends/cuda_plugin.h"
#include "seqtrain/error.h"

namespace seqtrain {
namespace {

std::string describe_build() {
  const CudaBuildInfo info = cuda_build_info();
  return fmt::format("kernels for {}; CUDA runtime {} (driver {}), cuBLAS {}, cuDNN {}, NCCL {}",
                     info.architectures, info.runtime, info.driver, info.cublas, info.cudnn,
                     info.nccl);
}

CudaDeviceQuery query_devices() {
  CudaDeviceQuery query;
  query.description = list_cuda_devices(query.count);
  return query;
}

std::unique_ptr<Backend> make_backend(int device_index, RnnImpl recurrent_impl) {
  auto backend = std::make_unique<CudaBackend>(device_index, recurrent_impl);
  spdlog::info("cuda backend on {}", backend->description());
  return backend;
}

std::unique_ptr<Communicator> make_communicator_on_device(Backend& backend, Communicator& host,
                                                          double timeout_seconds) {
  auto* cuda = dynamic_cast<CudaBackend*>(&backend);
  SEQTRAIN_CHECK(cuda != nullptr, "an NCCL communicator for the {} backend", backend.name());
  return make_nccl_communicator(*cuda, host, timeout_seconds);
}

const CudaPluginApi kApi{
    kCudaPluginAbi,        SEQTRAIN_VERSION,           describe_build, query_devices, make_backend,
    describe_nccl_library, make_communicator_on_device};

}  // namespace
}  // namespace seqtrain

extern "C" __attribute__((visibility("default"))) const seqtrain::CudaPluginApi*
seqtrain_cuda_plugin_api() {
  return &seqtrain::kApi;
}
