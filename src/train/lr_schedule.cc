#include "train/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "seqtrain/error.h"

namespace seqtrain {

LrDecay parse_lr_decay(const std::string& name) {
  for (LrDecay decay : {LrDecay::constant, LrDecay::linear, LrDecay::cosine})
    if (name == lr_decay_name(decay)) return decay;
  throw ConfigError(fmt::format(
      "learning-rate decay '{}' is unknown (accepted: constant, linear, cosine)", name));
}

std::int64_t clamp_warmup_steps(std::int64_t warmup_steps, std::int64_t total_steps,
                                LrDecay decay) {
  const std::int64_t longest =
      std::max<std::int64_t>(decay == LrDecay::constant ? total_steps : total_steps - 1, 0);
  return std::min(warmup_steps, longest);
}

LrSchedule::LrSchedule(const LrScheduleOptions& options) : options_(options) {
  if (!(options.peak_learning_rate > 0.0) || !std::isfinite(options.peak_learning_rate))
    throw ConfigError(fmt::format("learning-rate schedule: peak learning rate {} must be > 0",
                                  options.peak_learning_rate));
  if (options.warmup_steps < 0)
    throw ConfigError(
        fmt::format("learning-rate schedule: warmup_steps {} must be >= 0", options.warmup_steps));
  if (options.decay == LrDecay::constant) return;
  if (!(options.final_learning_rate >= 0.0) ||
      options.final_learning_rate > options.peak_learning_rate)
    throw ConfigError(fmt::format(
        "learning-rate schedule: final learning rate {} must be in [0, peak = {}] for {} decay",
        options.final_learning_rate, options.peak_learning_rate, lr_decay_name(options.decay)));
  if (options.total_steps <= options.warmup_steps)
    throw ConfigError(fmt::format(
        "learning-rate schedule: total_steps {} must exceed warmup_steps {} for {} decay",
        options.total_steps, options.warmup_steps, lr_decay_name(options.decay)));
}

float LrSchedule::learning_rate(std::int64_t step) const {
  SEQTRAIN_CHECK(step >= 1, "learning rate asked for step {} (steps count from 1)", step);
  const double peak = options_.peak_learning_rate;
  const std::int64_t warmup = options_.warmup_steps;
  if (step <= warmup)
    return static_cast<float>(peak * static_cast<double>(step) / static_cast<double>(warmup));
  if (options_.decay == LrDecay::constant) return static_cast<float>(peak);
  const double final_rate = options_.final_learning_rate;
  const double progress = std::min(
      1.0, static_cast<double>(step - warmup) / static_cast<double>(options_.total_steps - warmup));
  const double remaining = options_.decay == LrDecay::linear
                               ? 1.0 - progress
                               : 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
  return static_cast<float>(final_rate + (peak - final_rate) * remaining);
}

}  // namespace seqtrain
