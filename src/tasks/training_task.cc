#include "tasks/training_task.h"

#include "seqtrain/error.h"
#include "tasks/mlm_training_task.h"
#include "tasks/sequence_training_task.h"

namespace seqtrain {

void TrainingTask::initialize_from(const std::filesystem::path& directory) {
  SEQTRAIN_CHECK(false, "this task cannot start from {} (the config check lets only mlm through)",
                 directory.string());
}

std::unique_ptr<TrainingTask> make_training_task(const RunConfig& config,
                                                 const std::filesystem::path& run_dir,
                                                 Backend& backend, ParameterStore& parameters,
                                                 RunStart start) {
  if (config.task == Task::mlm)
    return make_mlm_training_task(config, run_dir, backend, parameters, start);
  return make_sequence_training_task(config, run_dir, backend, parameters);
}

}  // namespace seqtrain
