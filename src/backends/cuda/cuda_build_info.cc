#include "backends/cuda/cuda_build_info.h"

#include <cublas_api.h>
#include <cuda_runtime_api.h>
#include <fmt/format.h>

#if SEQTRAIN_WITH_CUDNN
#include <cudnn.h>
#endif
#if SEQTRAIN_WITH_NCCL
#include <nccl.h>
#endif

namespace seqtrain {
namespace {

// CUDA encodes versions as major * 1000 + minor * 10.
std::string cuda_version_text(int version) {
  return fmt::format("{}.{}", version / 1000, version % 1000 / 10);
}

}  // namespace

std::string list_cuda_devices(int& count) {
  count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    count = 0;
    // The runtime keeps the error as the thread's last error: clear it so later
    // CUDA calls do not report it again.
    static_cast<void>(cudaGetLastError());
    // The usual causes in words first: no driver at all, or a driver without a GPU.
    const char* cause = status == cudaErrorInsufficientDriver
                            ? "no NVIDIA driver, or one older than the CUDA 13 runtime; "
                        : status == cudaErrorNoDevice ? "no GPU; "
                                                      : "";
    return fmt::format("no device ({}cudaGetDeviceCount: {}: {})", cause,
                       cudaGetErrorName(status), cudaGetErrorString(status));
  }
  if (count == 0) return "no device (cudaGetDeviceCount found none)";
  std::string text = fmt::format("{} device{}:", count, count == 1 ? "" : "s");
  for (int device = 0; device < count; ++device) {
    cudaDeviceProp properties{};
    if (cudaGetDeviceProperties(&properties, device) != cudaSuccess) {
      static_cast<void>(cudaGetLastError());
      text += fmt::format("{} {} (properties unavailable)", device == 0 ? "" : ",", device);
      continue;
    }
    text += fmt::format("{} {} (sm_{}{}, {:.1f} GiB)", device == 0 ? "" : ",", properties.name,
                        properties.major, properties.minor,
                        static_cast<double>(properties.totalGlobalMem) / (1u << 30));
  }
  return text;
}

CudaBuildInfo cuda_build_info() {
  CudaBuildInfo info;
  info.architectures = SEQTRAIN_CUDA_ARCHITECTURES;
  int runtime = 0, driver = 0;
  info.runtime =
      cudaRuntimeGetVersion(&runtime) == cudaSuccess ? cuda_version_text(runtime) : "unknown";
  info.driver = cudaDriverGetVersion(&driver) == cudaSuccess && driver > 0
                    ? cuda_version_text(driver)
                    : "none";
  static_cast<void>(cudaGetLastError());
  info.cublas = fmt::format("{}.{}.{}", CUBLAS_VER_MAJOR, CUBLAS_VER_MINOR, CUBLAS_VER_PATCH);
#if SEQTRAIN_WITH_CUDNN
  // cuDNN 9 encodes its version as major * 10000 + minor * 100 + patch.
  const std::size_t cudnn = cudnnGetVersion();
  info.cudnn = fmt::format("{}.{}.{}", cudnn / 10000, cudnn % 10000 / 100, cudnn % 100);
#else
  info.cudnn = "not built";
#endif
#if SEQTRAIN_WITH_NCCL
  int nccl = 0;
  info.nccl = ncclGetVersion(&nccl) == ncclSuccess
                  ? fmt::format("{}.{}.{}", nccl / 10000, nccl % 10000 / 100, nccl % 100)
                  : "unknown";
#else
  info.nccl = "not built";
#endif
  info.devices = list_cuda_devices(info.device_count);
  return info;
}

}  // namespace seqtrain
