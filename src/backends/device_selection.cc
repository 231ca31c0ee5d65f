#include "backends/device_selection.h"

#include <omp.h>

#include <spdlog/spdlog.h>

#if SEQTRAIN_WITH_CUDA
#include "backends/cuda/cuda_build_info.h"
#endif

namespace seqtrain {

bool cuda_backend_built() { return false; }

std::string describe_cuda_build() {
#if SEQTRAIN_WITH_CUDA
  const CudaBuildInfo info = cuda_build_info();
  return fmt::format("kernels for {}; CUDA runtime {} (driver {}), cuBLAS {}, cuDNN {}, NCCL {}",
                     info.architectures, info.runtime, info.driver, info.cublas, info.cudnn,
                     info.nccl);
#else
  return "not built (configure with -DSEQTRAIN_CUDA=ON where the CUDA toolkit is installed)";
#endif
}

std::string describe_devices() {
#if SEQTRAIN_WITH_CUDA
  return fmt::format("cpu ({} cores); CUDA: {}", omp_get_num_procs(), cuda_build_info().devices);
#else
  return fmt::format("cpu ({} cores); no CUDA backend in this build", omp_get_num_procs());
#endif
}

std::unique_ptr<Backend> select_backend(const std::string& device, int threads) {
  if (device == "serial") return make_serial_backend();
  if (device == "cpu") return make_cpu_backend(threads);
  if (device == "cuda")
    throw DeviceError(
        "--device cuda: this build has no CUDA backend (rebuild on a machine with the CUDA "
        "toolkit, or use --device cpu)");
  if (device == "auto") {
    spdlog::info("device auto: using the cpu backend (this build has no CUDA backend)");
    return make_cpu_backend(threads);
  }
  throw Error(fmt::format("--device '{}': expected one of auto, serial, cpu, cuda", device));
}

}  // namespace seqtrain
