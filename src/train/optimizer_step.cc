#include "train/optimizer_step.h"

#include <chrono>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "seqtrain/error.h"

namespace seqtrain {
namespace {

// The step's metrics and every parameter's gradient summed over the ranks.
void reduce_over_ranks(Communicator& communicator, ParameterStore& parameters,
                       GradientBuckets* buckets, TaskMetrics& metrics) {
  double totals[] = {metrics.loss_sum, static_cast<double>(metrics.rows),
                     static_cast<double>(metrics.correct), static_cast<double>(metrics.tokens)};
  communicator.all_reduce_sum(totals);
  metrics.loss_sum = totals[0];
  metrics.rows = static_cast<std::int64_t>(totals[1]);
  metrics.correct = static_cast<std::int64_t>(totals[2]);
  metrics.tokens = static_cast<std::int64_t>(totals[3]);
  if (buckets != nullptr) {
    buckets->all_reduce();
  } else {
    GradientBuckets one(parameters, std::numeric_limits<std::int64_t>::max(), communicator);
    one.all_reduce();
  }
}

}  // namespace

OptimizerStepResult run_optimizer_step(
    const std::function<TaskMetrics(const RunContext&)>& micro_batch,
    ParameterStore& parameters, Optimizer& optimizer, const OptimizerStepOptions& options) {
  SEQTRAIN_CHECK(options.accumulation >= 1 && options.step >= 1, "step {} of {} micro-batches",
                 options.step, options.accumulation);
  const bool distributed = options.communicator != nullptr && options.communicator->world_size() > 1;
  // Gradients of summed losses, divided by the scored rows of the whole step.
  const bool accumulating = options.accumulation > 1 || distributed;
  parameters.zero_grads();
  OptimizerStepResult result;
  for (std::int64_t micro = 0; micro < options.accumulation; ++micro) {
    RunContext context{options.seed,
                       static_cast<std::uint64_t>((options.step - 1) * options.accumulation + micro),
                       true};
    context.sum_loss_over_rows = accumulating;
    result.metrics.add(micro_batch(context));
  }
  if (distributed) {
    const auto started = std::chrono::steady_clock::now();
    reduce_over_ranks(*options.communicator, parameters, options.buckets, result.metrics);
    result.communication_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  }
  if (!std::isfinite(result.metrics.loss_sum)) {
    result.skipped = fmt::format("the loss is {}", result.metrics.loss_sum);
    return result;
  }
  if (accumulating && result.metrics.rows > 0) {
    Backend& backend = parameters.backend();
    const float inverse_rows = 1.0f / static_cast<float>(result.metrics.rows);
    for (const auto& parameter : parameters.all())
      backend.scale(parameter->grad, inverse_rows, parameter->grad);
  }
  result.gradient = options.clip_norm > 0
                        ? clip_gradients_by_global_norm(parameters, options.clip_norm)
                        : global_gradient_norm(parameters);
  if (!result.gradient.finite) {
    result.skipped = fmt::format("the gradient of {} is not finite",
                                 result.gradient.non_finite_parameters.front());
    return result;
  }
  optimizer.step(options.learning_rate);
  return result;
}

}  // namespace seqtrain
