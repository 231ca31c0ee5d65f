// Scalar formulas shared by every CPU-side backend, so serial and cpu agree on
// the definition and differ only in how the loops are run.
#pragma once

#include <cmath>

#include "seqtrain/graph.h"

namespace seqtrain {

inline float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// BERT's GELU (the erf form, Hugging Face "gelu").
inline float gelu(float x) { return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f)); }
inline float gelu_derivative(float x) {
  float cdf = 0.5f * (1.0f + std::erf(x * 0.70710678118654752f));
  float pdf = 0.39894228040143268f * std::exp(-0.5f * x * x);
  return cdf + x * pdf;
}

inline float activation_value(Activation activation, float x) {
  switch (activation) {
    case Activation::sigmoid: return sigmoid(x);
    case Activation::tanh: return std::tanh(x);
    case Activation::relu: return x > 0.0f ? x : 0.0f;
    case Activation::gelu: return gelu(x);
  }
  return 0.0f;
}

// d activation / dx, from the input x and the output y.
inline float activation_derivative(Activation activation, float x, float y) {
  switch (activation) {
    case Activation::sigmoid: return y * (1.0f - y);
    case Activation::tanh: return 1.0f - y * y;
    case Activation::relu: return x > 0.0f ? 1.0f : 0.0f;
    case Activation::gelu: return gelu_derivative(x);
  }
  return 0.0f;
}

}  // namespace seqtrain
