#include "kernels/cuda_check.h"

#include <fmt/format.h>

#include "seqtrain/error.h"

namespace seqtrain::kernels {

void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line) {
  // Clears the runtime's sticky last error, so a caller that recovers from this
  // one does not see it again from its next call.
  static_cast<void>(cudaGetLastError());
  throw DeviceError(fmt::format("CUDA error at {}:{}: {} returned {} ({})", file, line, call,
                                cudaGetErrorName(status), cudaGetErrorString(status)));
}

}  // namespace seqtrain::kernels
