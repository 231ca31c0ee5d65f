// Host entry points of the mean-squared-error kernels (kernels/mse.cu, whose
// header has the launch geometry and costs), Backend::mse_forward/backward:
//   loss[0] = mean over i < count of (prediction[i] - target[i])^2
//   dprediction[i] = 2 dloss[0] / count * (prediction[i] - target[i])
// prediction, target and dprediction are float or __nv_bfloat16; loss, dloss
// and the workspace are fp32 device memory. The forward sum is reduced in a
// fixed order (no float atomics): the same inputs give the same loss bit for
// bit on every run. Nothing is allocated.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

namespace seqtrain::kernels {

// Floats of workspace (partial_sums) that mse_forward needs, for any count.
inline constexpr int kMseForwardWorkspaceFloats = 64;

template <class Storage>
struct MseForwardArgs {
  std::int64_t count = 0;
  const Storage* prediction = nullptr;  // [count]
  const Storage* target = nullptr;      // [count]
  float* partial_sums = nullptr;        // [kMseForwardWorkspaceFloats] scratch
  float* loss = nullptr;                // [1], overwritten (0 when count is 0)
};

template <class Storage>
struct MseBackwardArgs {
  std::int64_t count = 0;
  const Storage* prediction = nullptr;  // [count]
  const Storage* target = nullptr;      // [count]
  const float* dloss = nullptr;         // [1]
  Storage* dprediction = nullptr;       // [count], overwritten
};

// Two launches on `stream`: per-block partial sums, then their sum.
void mse_forward(const MseForwardArgs<float>& args, cudaStream_t stream);
void mse_forward(const MseForwardArgs<__nv_bfloat16>& args, cudaStream_t stream);
void mse_backward(const MseBackwardArgs<float>& args, cudaStream_t stream);
void mse_backward(const MseBackwardArgs<__nv_bfloat16>& args, cudaStream_t stream);

}  // namespace seqtrain::kernels
