// Host entry points of the bias and activation kernels (kernels/bias_activation.cu,
// whose header has the formulas, launch geometry and costs):
//   bias_activation_forward  out[r, c] = act(x[r, c] + bias[c])  (Backend::bias_add
//                            with Activation::identity, or the fused
//                            bias + activation after a GEMM)
//   activation_forward       y[i] = act(x[i])                     (Backend::activation_forward)
//   activation_backward      dx[i] = dy[i] * act'(x[i], y[i])      (Backend::activation_backward)
//
// Storage is float or __nv_bfloat16, math in fp32; biases are fp32 (master
// weights). Outputs may be the same buffer as an input. Nothing is allocated;
// empty shapes launch nothing.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

#include "seqtrain/op_types.h"

namespace seqtrain::kernels {

// out[r, c] = act(x[r, c] + bias[c]) for x, out [rows, columns]; bias [columns]
// (null: no bias).
template <class Storage>
struct BiasActivationForwardArgs {
  Activation activation = Activation::identity;
  std::int64_t rows = 0;
  std::int32_t columns = 0;
  const Storage* x = nullptr;
  const float* bias = nullptr;
  Storage* out = nullptr;
};

// y[i] = act(x[i]) for i < count.
template <class Storage>
struct ActivationForwardArgs {
  Activation activation = Activation::identity;
  std::int64_t count = 0;
  const Storage* x = nullptr;
  Storage* y = nullptr;
};

// dx[i] = dy[i] * act'(x[i]), where sigmoid and tanh take the derivative from
// the forward output y (y (1 - y), 1 - y^2) and relu, gelu and identity from x.
// The input the activation does not use may be null.
template <class Storage>
struct ActivationBackwardArgs {
  Activation activation = Activation::identity;
  std::int64_t count = 0;
  const Storage* x = nullptr;
  const Storage* y = nullptr;
  const Storage* dy = nullptr;
  Storage* dx = nullptr;
};

void bias_activation_forward(const BiasActivationForwardArgs<float>& args, cudaStream_t stream);
void bias_activation_forward(const BiasActivationForwardArgs<__nv_bfloat16>& args,
                             cudaStream_t stream);
void activation_forward(const ActivationForwardArgs<float>& args, cudaStream_t stream);
void activation_forward(const ActivationForwardArgs<__nv_bfloat16>& args, cudaStream_t stream);
void activation_backward(const ActivationBackwardArgs<float>& args, cudaStream_t stream);
void activation_backward(const ActivationBackwardArgs<__nv_bfloat16>& args, cudaStream_t stream);

}  // namespace seqtrain::kernels
