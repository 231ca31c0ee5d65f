// The activations' math, written once for every backend: the serial oracle,
// the cpu backend's scalar paths and the CUDA kernels (compiled by nvcc for
// the GPU and as host C++ for the emulation) all call these. The cpu backend's
// vectorised loops use approximations of the same formulas
// (src/backends/cpu/vector_math.h, checked against these).
//
//   sigmoid  y = 1 / (1 + e^-x)                        dy/dx = y (1 - y)
//   tanh     y = tanh x                                dy/dx = 1 - y^2
//   relu     y = max(x, 0)                             dy/dx = [x > 0]
//   gelu     y = x Phi(x) = x/2 (1 + erf(x / sqrt 2))  dy/dx = Phi(x) + x phi(x),
//            phi(x) = e^(-x^2/2) / sqrt(2 pi)          (the erf form BERT uses)
//   silu     y = x sigmoid(x)                          dy/dx = s + x s (1 - s), s = sigmoid(x)
//   identity y = x                                     dy/dx = 1
// The derivative takes the forward output y too: sigmoid and tanh read it.
#pragma once

#include <math.h>

#include "seqtrain/op_types.h"

#if defined(__CUDACC__)
#define SEQTRAIN_HOST_DEVICE __host__ __device__
#else
#define SEQTRAIN_HOST_DEVICE
#endif

namespace seqtrain {

SEQTRAIN_HOST_DEVICE inline float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

SEQTRAIN_HOST_DEVICE inline float gelu_cdf(float x) {
  return 0.5f * (1.0f + erff(x * 0.70710678118654752f));
}

SEQTRAIN_HOST_DEVICE inline float activation_value(Activation activation, float x) {
  switch (activation) {
    case Activation::sigmoid: return sigmoid(x);
    case Activation::tanh: return tanhf(x);
    case Activation::relu: return x > 0.0f ? x : 0.0f;
    case Activation::gelu: return x * gelu_cdf(x);
    case Activation::silu: return x * sigmoid(x);
    case Activation::identity: return x;
  }
  return x;
}

SEQTRAIN_HOST_DEVICE inline float activation_derivative(Activation activation, float x, float y) {
  switch (activation) {
    case Activation::sigmoid: return y * (1.0f - y);
    case Activation::tanh: return 1.0f - y * y;
    case Activation::relu: return x > 0.0f ? 1.0f : 0.0f;
    case Activation::gelu: return gelu_cdf(x) + x * 0.39894228040143268f * expf(-0.5f * x * x);
    case Activation::silu: {
      const float s = sigmoid(x);
      return s + x * s * (1.0f - s);
    }
    case Activation::identity: return 1.0f;
  }
  return 1.0f;
}

// Whether activation_derivative reads y (else x).
SEQTRAIN_HOST_DEVICE inline bool derivative_reads_output(Activation activation) {
  return activation == Activation::sigmoid || activation == Activation::tanh;
}

}  // namespace seqtrain
