#include "train/grad_clip.h"

#include <cmath>

#include "seqtrain/backend.h"

namespace seqtrain {

GradientNorm global_gradient_norm(const ParameterStore& parameters) {
  GradientNorm result;
  double sum_of_squares = 0.0;
  for (const auto& parameter : parameters.all()) {
    const double parameter_sum = parameters.backend().sum_of_squares(parameter->grad);
    // A finite gradient can still overflow the double sum only beyond 1e308,
    // so an inf or NaN here comes from the gradient itself.
    if (!std::isfinite(parameter_sum)) result.non_finite_parameters.push_back(parameter->name);
    sum_of_squares += parameter_sum;
  }
  result.norm = std::sqrt(sum_of_squares);
  result.finite = std::isfinite(result.norm);
  return result;
}

GradientNorm clip_gradients_by_global_norm(ParameterStore& parameters, double max_norm) {
  GradientNorm result = global_gradient_norm(parameters);
  if (!result.finite || max_norm <= 0.0) return result;
  const double coefficient = max_norm / (result.norm + 1e-6);
  if (coefficient >= 1.0) return result;
  for (const auto& parameter : parameters.all())
    parameters.backend().scale(parameter->grad, static_cast<float>(coefficient), parameter->grad);
  return result;
}

}  // namespace seqtrain
