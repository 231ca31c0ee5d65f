// Error checking for CUDA runtime calls in host code: CUDA_CHECK(call) throws a
// DeviceError naming the call, the file and line, and what came back.
// Only for the GPU build (it needs the CUDA runtime library).
#pragma once

#include <cuda_runtime_api.h>

namespace seqtrain::kernels {

[[noreturn]] void throw_cuda_error(cudaError_t status, const char* call, const char* file,
                                   int line);

inline void check_cuda(cudaError_t status, const char* call, const char* file, int line) {
  if (status != cudaSuccess) throw_cuda_error(status, call, file, line);
}

}  // namespace seqtrain::kernels

#define CUDA_CHECK(call) ::seqtrain::kernels::check_cuda((call), #call, __FILE__, __LINE__)
