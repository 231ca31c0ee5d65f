#include "backends/cuda/cuda_errors.h"

#include <fmt/format.h>

#include "seqtrain/error.h"

namespace seqtrain::cuda {

void throw_cublas_error(cublasStatus_t status, const char* call, const char* file, int line) {
  throw DeviceError(fmt::format("cuBLAS error at {}:{}: {} returned {} ({})", file, line, call,
                                cublasGetStatusName(status), cublasGetStatusString(status)));
}

}  // namespace seqtrain::cuda
