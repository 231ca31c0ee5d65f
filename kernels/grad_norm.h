// Host entry point of the global gradient-norm kernels (kernels/grad_norm.cu,
// whose header has the formulas, launch geometry and costs): the sum of squares
// of every gradient of a model (the square of the global L2 norm that gradient
// clipping needs), in two launches, in a fixed order: the same result on every
// run. The tensors are the planned descriptor array of kernels/optimizer.h
// (only grad and numel are read), so one array serves the norm and the update.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "kernels/optimizer.h"

namespace seqtrain::kernels {

struct GradNormArgs {
  const OptimizerTensor* tensors = nullptr;  // device array, planned
  std::int32_t tensor_count = 0;
  std::int64_t blocks = 0;           // plan_optimizer_blocks' result
  double* sum_of_squares = nullptr;  // [1], device memory, overwritten
  // grad_norm_workspace_bytes(blocks) bytes, 16-byte aligned; no initialisation needed.
  void* workspace = nullptr;
};

std::size_t grad_norm_workspace_bytes(std::int64_t blocks);

void grad_sum_of_squares(const GradNormArgs& args, cudaStream_t stream);

}  // namespace seqtrain::kernels
