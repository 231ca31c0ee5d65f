// Which checkpoints a run keeps and when it stops early, from its validation
// records: training.keep_checkpoints (the newest N), training.keep_best (the
// best by a validation metric, never pruned, linked as checkpoints/best) and
// training.early_stopping (stop when a metric has not improved for `patience`
// validations in a row).
//
// A metric is one of the numbers of the task's validation record; names that
// end in "accuracy" improve upwards, every other (loss, mse, bits_per_char,
// perplexity) downwards. An improvement must beat the best by more than
// min_delta. The trackers' state goes into every checkpoint's trainer state,
// so a resumed run keeps its best and its patience count.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "seqtrain/task.h"

namespace seqtrain {

// The validation metrics of a task that keep_best and early_stopping can follow.
const std::vector<std::string>& selectable_validation_metrics(Task task);

enum class MetricGoal { minimize, maximize };
MetricGoal metric_goal(std::string_view metric);

// The best value of one validation metric so far, its step, and how many
// validations since have not improved on it.
class MetricTracker {
 public:
  MetricTracker(std::string metric, double min_delta = 0.0);

  // Reads the metric from a validation record; true when it improved on the
  // best (the first value always does). A record without the metric, or with
  // a non-finite value, does not improve.
  bool observe(std::int64_t step, const nlohmann::json& record);

  const std::string& metric() const { return metric_; }
  std::optional<std::int64_t> best_step() const { return best_step_; }
  double best_value() const { return best_value_; }
  std::int64_t validations_without_improvement() const { return stale_; }

  nlohmann::json to_json() const;
  // CheckpointError when the saved state follows another metric or is malformed.
  void restore(const nlohmann::json& saved);

 private:
  std::string metric_;
  double min_delta_;
  std::optional<std::int64_t> best_step_;
  double best_value_ = 0.0;
  std::int64_t stale_ = 0;
};

// Points <run_dir>/checkpoints/best at checkpoint_dir (a relative symbolic
// link, replaced atomically), so `eval RUN --checkpoint best` and
// from_pretrained(RUN/checkpoints/best) find it.
void write_best_pointer(const std::filesystem::path& run_dir,
                        const std::filesystem::path& checkpoint_dir);

}  // namespace seqtrain
