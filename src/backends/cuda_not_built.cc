// The CUDA entry points of a CPU-only build (SEQTRAIN_CUDA=OFF or no toolkit):
// there is no CUDA backend. CUDA builds get them from src/backends/cuda/cuda_entry.cc.
#if !SEQTRAIN_WITH_CUDA

#include "backends/device_selection.h"

namespace seqtrain {

bool cuda_backend_built() {
  return false;
}

std::string describe_cuda_build() {
  return "not built (configure with -DSEQTRAIN_CUDA=ON where the CUDA toolkit is installed)";
}

CudaDeviceQuery query_cuda_devices() {
  return {0, "no CUDA backend in this build"};
}

std::unique_ptr<Backend> make_cuda_backend(int, RnnImpl) {
  throw DeviceError(
      "this build has no CUDA backend (rebuild on a machine with the CUDA toolkit, or use "
      "--device cpu)");
}

}  // namespace seqtrain

#endif
