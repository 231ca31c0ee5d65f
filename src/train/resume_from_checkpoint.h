// Continuing a run from one of its checkpoints: the weights and optimizer
// state (load_checkpoint), the task's state (data position, carried state)
// and the trackers of training.keep_best and early stopping, all read from
// the checkpoint's files. The trainer calls this when a run resumes; the
// trainer_state fuzzer (fuzz/) calls it on arbitrary trainer_state.json.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>

#include "tasks/training_task.h"
#include "train/checkpoint_policy.h"
#include "train/optimizer.h"

namespace seqtrain {

// Restores everything a checkpoint holds into task, optimizer and the
// trackers (each, when set, continues from the checkpoint if it follows the
// same metric, else starts afresh) and returns the checkpoint's step. Any
// malformed or foreign state is a CheckpointError naming the file.
std::int64_t resume_from_checkpoint(const std::filesystem::path& checkpoint, TrainingTask& task,
                                    Optimizer& optimizer, std::optional<MetricTracker>& best,
                                    std::optional<MetricTracker>& early_stopping);

}  // namespace seqtrain
