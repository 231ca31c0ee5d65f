// Host entry point of the bias-gradient kernel (kernels/bias_grad.cu): column
// sums of a [rows, columns] matrix, in a fixed order (no atomics), so the result
// is the same on every run. The recurrent layers use it for db_ih and db_hh over
// the gate gradients of all steps; the bias_add op for its bias.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

namespace seqtrain::kernels {

template <class Storage>
struct BiasGradArgs {
  std::int64_t rows = 0;
  std::int32_t columns = 0;
  const Storage* dy = nullptr;  // [rows, columns]
  float* bias_grad = nullptr;   // [columns], overwritten
};

void bias_grad(const BiasGradArgs<float>& args, cudaStream_t stream);
void bias_grad(const BiasGradArgs<__nv_bfloat16>& args, cudaStream_t stream);

}  // namespace seqtrain::kernels
