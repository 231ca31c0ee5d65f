// Host entry points of the softmax kernels (kernels/softmax.cu, whose header has
// the formulas, launch geometry and costs): softmax over the last axis of x
// viewed as [rows, columns], and its backward. Storage is float or
// __nv_bfloat16 with fp32 math.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

namespace seqtrain::kernels {

template <class Storage>
struct SoftmaxForwardArgs {
  std::int64_t rows = 0;
  std::int32_t columns = 0;
  const Storage* x = nullptr;  // [rows, columns]
  Storage* y = nullptr;        // [rows, columns]; may be x (in place)
};

// dx = y * (dy - sum_j dy_j y_j) per row.
template <class Storage>
struct SoftmaxBackwardArgs {
  std::int64_t rows = 0;
  std::int32_t columns = 0;
  const Storage* y = nullptr;   // [rows, columns]: the forward output
  const Storage* dy = nullptr;  // [rows, columns]
  Storage* dx = nullptr;        // [rows, columns]; may be dy (in place)
};

void softmax_forward(const SoftmaxForwardArgs<float>& args, cudaStream_t stream);
void softmax_forward(const SoftmaxForwardArgs<__nv_bfloat16>& args, cudaStream_t stream);
void softmax_backward(const SoftmaxBackwardArgs<float>& args, cudaStream_t stream);
void softmax_backward(const SoftmaxBackwardArgs<__nv_bfloat16>& args, cudaStream_t stream);

}  // namespace seqtrain::kernels
