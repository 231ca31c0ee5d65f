#include "train/checkpoint_policy.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <random>

#include "seqtrain/error.h"

namespace seqtrain {

const std::vector<std::string>& selectable_validation_metrics(Task task) {
  // The numbers of each task's validation record (tasks/evaluation.cc,
  // tasks/mlm_validation_metrics.cc) that measure the model.
  static const std::vector<std::string> charlm{"loss", "bits_per_char", "accuracy"};
  static const std::vector<std::string> adding{"mse"};
  static const std::vector<std::string> classification{"loss", "accuracy"};
  static const std::vector<std::string> mlm{"mlm_loss", "mlm_accuracy", "perplexity"};
  switch (task) {
    case Task::charlm: return charlm;
    case Task::adding: return adding;
    case Task::classification: return classification;
    case Task::mlm: return mlm;
  }
  return charlm;
}

MetricGoal metric_goal(std::string_view metric) {
  return metric.ends_with("accuracy") ? MetricGoal::maximize : MetricGoal::minimize;
}

MetricTracker::MetricTracker(std::string metric, double min_delta)
    : metric_(std::move(metric)), min_delta_(min_delta) {}

bool MetricTracker::observe(std::int64_t step, const nlohmann::json& record) {
  const auto found = record.find(metric_);
  const bool finite = found != record.end() && found->is_number() &&
                      std::isfinite(found->get<double>());
  const double value = finite ? found->get<double>() : 0.0;
  const bool improved =
      finite && (!best_step_ || (metric_goal(metric_) == MetricGoal::minimize
                                     ? value < best_value_ - min_delta_
                                     : value > best_value_ + min_delta_));
  if (improved) {
    best_step_ = step;
    best_value_ = value;
    stale_ = 0;
  } else {
    ++stale_;
  }
  return improved;
}

nlohmann::json MetricTracker::to_json() const {
  nlohmann::json saved{{"metric", metric_}, {"validations_without_improvement", stale_}};
  if (best_step_) {
    saved["best_step"] = *best_step_;
    saved["best_value"] = best_value_;
  }
  return saved;
}

void MetricTracker::restore(const nlohmann::json& saved) {
  try {
    const std::string metric = saved.at("metric").get<std::string>();
    if (metric != metric_)
      throw CheckpointError(fmt::format(
          "trainer_state.json follows validation metric '{}', this run '{}': resume with the "
          "run's own training.keep_best and training.early_stopping.metric",
          metric, metric_));
    // Counts as integers: get<int64_t> of a float such as 1e300 would be
    // undefined behaviour (found by fuzz/trainer_state_fuzzer).
    auto count = [&](const char* key) {
      const nlohmann::json& value = saved.at(key);
      if (!value.is_number_integer() || value.get<std::int64_t>() < 0)
        throw CheckpointError(fmt::format(
            "trainer_state.json: the '{}' tracker's {} is {}, not a non-negative integer",
            metric_, key, value.dump()));
      return value.get<std::int64_t>();
    };
    stale_ = count("validations_without_improvement");
    if (saved.contains("best_step")) {
      best_step_ = count("best_step");
      if (!saved.at("best_value").is_number())
        throw CheckpointError(
            fmt::format("trainer_state.json: the '{}' tracker's best_value is {}, not a number",
                        metric_, saved.at("best_value").dump()));
      best_value_ = saved.at("best_value").get<double>();
    } else {
      best_step_.reset();
    }
  } catch (const nlohmann::json::exception& e) {
    throw CheckpointError(
        fmt::format("trainer_state.json: the '{}' tracker is malformed: {}", metric_, e.what()));
  }
}

void write_best_pointer(const std::filesystem::path& run_dir,
                        const std::filesystem::path& checkpoint_dir) {
  const std::filesystem::path link = run_dir / "checkpoints" / "best";
  const std::filesystem::path temporary =
      run_dir / "checkpoints" / fmt::format(".best.tmp-{}", std::random_device{}());
  // rename() replaces the old link in one step; a directory of that name
  // (made by hand) is refused by rename and reported.
  if (::symlink(checkpoint_dir.filename().c_str(), temporary.c_str()) != 0 ||
      ::rename(temporary.c_str(), link.c_str()) != 0) {
    const int error = errno;
    ::unlink(temporary.c_str());
    throw CheckpointError(fmt::format("cannot point '{}' at {}: {}", link.string(),
                                      checkpoint_dir.filename().string(), std::strerror(error)));
  }
}

}  // namespace seqtrain
