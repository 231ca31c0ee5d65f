// Host entry points of the fused multi-tensor optimizer kernels
// (kernels/optimizer.cu, whose header has the formulas, launch geometry and
// costs): one launch updates every parameter tensor of a model, with the
// semantics of Backend::adamw_update and Backend::sgd_update. Parameters,
// gradients and optimizer state are fp32.
//
// The tensors are described by a device array of OptimizerTensor. Set the
// pointers and numel on the host, call plan_optimizer_blocks once to number
// the blocks, copy the array to the device, and keep it: it stays valid for
// every step while the tensors do not move.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace seqtrain::kernels {

// Elements one block updates (256 threads x 4).
inline constexpr std::int64_t kOptimizerElementsPerBlock = 1024;

struct OptimizerTensor {
  float* parameter = nullptr;
  const float* grad = nullptr;
  float* first_moment = nullptr;   // AdamW's m; SGD's velocity
  float* second_moment = nullptr;  // AdamW's v; unused by SGD (may be null)
  std::int64_t numel = 0;
  std::int64_t first_block = 0;  // set by plan_optimizer_blocks
};

// Numbers the blocks of `count` host-side descriptors (first_block, in order)
// and returns the total, the grid the launches use. The same planned array
// serves the optimizer updates and the gradient norm (kernels/grad_norm.h).
std::int64_t plan_optimizer_blocks(OptimizerTensor* tensors, std::int32_t count);

// The index of the tensor whose blocks include `block`: the last one with
// first_block <= block (empty tensors own no block), by binary search.
__host__ __device__ inline std::int32_t optimizer_tensor_of_block(const OptimizerTensor* tensors,
                                                                  std::int32_t count,
                                                                  std::int64_t block) {
  std::int32_t low = 0, high = count - 1;
  while (low < high) {
    const std::int32_t middle = (low + high + 1) / 2;
    if (tensors[middle].first_block <= block)
      low = middle;
    else
      high = middle - 1;
  }
  return low;
}

struct AdamWArgs {
  const OptimizerTensor* tensors = nullptr;  // device array, planned
  std::int32_t tensor_count = 0;
  std::int64_t blocks = 0;  // plan_optimizer_blocks' result
  float learning_rate = 0.0f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float epsilon = 1e-8f;
  float weight_decay = 0.0f;  // decoupled (Loshchilov & Hutter)
  std::int64_t step = 1;      // 1-based, for bias correction
};

struct SgdArgs {
  const OptimizerTensor* tensors = nullptr;  // device array, planned
  std::int32_t tensor_count = 0;
  std::int64_t blocks = 0;
  float learning_rate = 0.0f;
  float momentum = 0.0f;
  float weight_decay = 0.0f;
};

void adamw_update(const AdamWArgs& args, cudaStream_t stream);
void sgd_update(const SgdArgs& args, cudaStream_t stream);

}  // namespace seqtrain::kernels
