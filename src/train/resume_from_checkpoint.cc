#include "train/resume_from_checkpoint.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <initializer_list>
#include <nlohmann/json.hpp>
#include <utility>

#include "train/checkpoint.h"

namespace seqtrain {
namespace {

// A resumed run continues its trackers when they follow the same metric; a
// tracker new to the run, or switched to another metric, starts afresh.
void restore_trackers(
    const nlohmann::json& trainer_state,
    std::initializer_list<std::pair<const char*, std::optional<MetricTracker>*>> trackers) {
  for (const auto& [key, tracker] : trackers) {
    if (!*tracker || !trainer_state.contains(key)) continue;
    const nlohmann::json& saved = trainer_state.at(key);
    if (saved.is_object() && saved.value("metric", "") == (*tracker)->metric())
      (*tracker)->restore(saved);
    else
      spdlog::info("{}: starts following validation {} at this resume", key, (*tracker)->metric());
  }
}

}  // namespace

std::int64_t resume_from_checkpoint(const std::filesystem::path& checkpoint, TrainingTask& task,
                                    Optimizer& optimizer, std::optional<MetricTracker>& best,
                                    std::optional<MetricTracker>& early_stopping) {
  try {
    LoadedCheckpoint loaded = load_checkpoint(checkpoint, task.checkpoint_format(), &optimizer);
    task.restore_state(loaded.trainer_state, loaded.state_tensors);
    restore_trackers(loaded.trainer_state,
                     {{"keep_best", &best}, {"early_stopping", &early_stopping}});
    return loaded.step;
  } catch (const nlohmann::json::exception& e) {
    throw CheckpointError(fmt::format("{}: {} is malformed: {}", checkpoint.string(),
                                      kTrainerStateFileName, e.what()));
  }
}

}  // namespace seqtrain
