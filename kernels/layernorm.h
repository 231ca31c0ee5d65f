// Host entry points of the layer-normalisation kernels (kernels/layernorm.cu,
// whose header has the formulas, launch geometry and costs), over the last axis
// of x viewed as [rows, columns]. Storage (x, y, dy, dx) is float or
// __nv_bfloat16 with fp32 math; gamma, beta, the saved mean and rstd, and the
// parameter gradients are fp32.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace seqtrain::kernels {

// y = (x - mean) * rstd * gamma + beta per row; mean and rstd saved for backward.
template <class Storage>
struct LayernormForwardArgs {
  std::int64_t rows = 0;     // N
  std::int32_t columns = 0;  // D
  float epsilon = 1e-5f;
  const Storage* x = nullptr;    // [N, D]
  const float* gamma = nullptr;  // [D]
  const float* beta = nullptr;   // [D]
  Storage* y = nullptr;          // [N, D]
  float* mean = nullptr;         // [N]
  float* rstd = nullptr;         // [N]: 1 / sqrt(variance + epsilon)
};

// dx, dgamma and dbeta (all overwritten). dgamma and dbeta are column sums over
// the rows, formed in a fixed order through `workspace` (no atomics): run-to-run
// identical. workspace holds layernorm_backward_workspace_bytes(rows, columns)
// bytes of device memory, 16-byte aligned; its contents need no initialisation.
template <class Storage>
struct LayernormBackwardArgs {
  std::int64_t rows = 0;
  std::int32_t columns = 0;
  const Storage* x = nullptr;    // [N, D]
  const float* gamma = nullptr;  // [D]
  const float* mean = nullptr;   // [N]
  const float* rstd = nullptr;   // [N]
  const Storage* dy = nullptr;   // [N, D]
  Storage* dx = nullptr;         // [N, D]
  float* dgamma = nullptr;       // [D]
  float* dbeta = nullptr;        // [D]
  void* workspace = nullptr;
};

std::size_t layernorm_backward_workspace_bytes(std::int64_t rows, std::int32_t columns);

void layernorm_forward(const LayernormForwardArgs<float>& args, cudaStream_t stream);
void layernorm_forward(const LayernormForwardArgs<__nv_bfloat16>& args, cudaStream_t stream);
void layernorm_backward(const LayernormBackwardArgs<float>& args, cudaStream_t stream);
void layernorm_backward(const LayernormBackwardArgs<__nv_bfloat16>& args, cudaStream_t stream);

}  // namespace seqtrain::kernels
