// The sequence tasks (charlm, adding, classification) as a TrainingTask: the
// task's dataset (sequence_task.h), a SequenceModel and a SequenceRunner that
// carries the recurrent state from batch to batch for charlm.
//
// Trainer state: {"data_position": <dataset position>, "carried_state_tensors":
// K}, and the carried state's K tensors "carried_state.0" ... in
// trainer_state.safetensors (bit for bit). Checkpoints of earlier versions,
// with the state as JSON numbers ("carried_state": [{"shape", "values"}...]),
// still load.
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
