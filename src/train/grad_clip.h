// Gradient clipping by the global L2 norm over all parameter gradients, as
// torch.nn.utils.clip_grad_norm_ does it:
//   norm  = sqrt(sum over parameters of sum(grad^2))   (accumulated in double)
//   grads *= min(1, max_norm / (norm + 1e-6))
// A non-finite norm (an inf or NaN anywhere in a gradient) leaves the gradients
// untouched and is reported, so the trainer can stop and say at which step and
// in which parameters it happened instead of writing NaN into the weights.
#pragma once

#include <string>
#include <vector>

#include "seqtrain/parameters.h"

namespace seqtrain {

struct GradientNorm {
  double norm = 0.0;  // before clipping
  bool finite = true;
  // Parameters whose gradient holds an inf or NaN (empty when finite).
  std::vector<std::string> non_finite_parameters;
};

// The global gradient norm, without changing the gradients.
GradientNorm global_gradient_norm(const ParameterStore& parameters);

// Computes the global norm and, when it is finite and max_norm > 0, scales every
// gradient in place by min(1, max_norm / (norm + 1e-6)). max_norm <= 0 disables
// clipping (the norm is still measured, for the metrics).
GradientNorm clip_gradients_by_global_norm(ParameterStore& parameters, double max_norm);

}  // namespace seqtrain
