#include "train/grad_clip.h"

#include <cmath>

#include "seqtrain/backend.h"

namespace seqtrain {

GradientNorm global_gradient_norm(const ParameterStore& parameters) {
  Backend& backend = parameters.backend();
  std::vector<const Tensor*> grads;
  for (const auto& parameter : parameters.all()) grads.push_back(&parameter->grad);
  GradientNorm result;
  result.norm = std::sqrt(backend.total_sum_of_squares(grads));
  result.finite = std::isfinite(result.norm);
  if (result.finite) return result;
  // Name the culprits, one parameter at a time. A finite gradient can still
  // overflow the double sum only beyond 1e308, so an inf or NaN in one
  // parameter's sum comes from that gradient.
  for (const auto& parameter : parameters.all())
    if (!std::isfinite(backend.sum_of_squares(parameter->grad)))
      result.non_finite_parameters.push_back(parameter->name);
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
