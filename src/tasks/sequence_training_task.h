// The sequence tasks (charlm, adding, classification) as a TrainingTask: the
// task's dataset (sequence_task.h), a SequenceModel and a SequenceRunner that
// carries the recurrent state from batch to batch for charlm.
//
// Trainer state: {"data_position": <dataset position>, "carried_state":
// [{"shape", "values"}...]}, the carried state as exact JSON numbers (a float
// widened to double prints and parses back bit for bit).
#pragma once

#include <filesystem>
#include <memory>

#include "tasks/training_task.h"

namespace seqtrain {

std::unique_ptr<TrainingTask> make_sequence_training_task(const RunConfig& config,
                                                          const std::filesystem::path& run_dir,
                                                          Backend& backend,
                                                          ParameterStore& parameters);

}  // namespace seqtrain
