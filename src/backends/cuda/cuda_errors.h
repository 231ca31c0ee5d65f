// Error checks for the CUDA backend's library calls, each a DeviceError naming
// the call, its file and line, and what came back:
//   CUDA_CHECK(call)    the CUDA runtime (kernels/cuda_check.h)
//   CUBLAS_CHECK(call)  cuBLAS
//   CUDNN_CHECK(call)   cuDNN (only where cudnn.h is included first)
#pragma once

#include <cublas_api.h>

#include "kernels/cuda_check.h"

namespace seqtrain::cuda {

[[noreturn]] void throw_cublas_error(cublasStatus_t status, const char* call, const char* file,
                                     int line);

inline void check_cublas(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status != CUBLAS_STATUS_SUCCESS) throw_cublas_error(status, call, file, line);
}

}  // namespace seqtrain::cuda

#define CUBLAS_CHECK(call) ::seqtrain::cuda::check_cublas((call), #call, __FILE__, __LINE__)

#if defined(CUDNN_MAJOR)
namespace seqtrain::cuda {

[[noreturn]] void throw_cudnn_error(cudnnStatus_t status, const char* call, const char* file,
                                    int line);

inline void check_cudnn(cudnnStatus_t status, const char* call, const char* file, int line) {
  if (status != CUDNN_STATUS_SUCCESS) throw_cudnn_error(status, call, file, line);
}

}  // namespace seqtrain::cuda

#define CUDNN_CHECK(call) ::seqtrain::cuda::check_cudnn((call), #call, __FILE__, __LINE__)
#endif
