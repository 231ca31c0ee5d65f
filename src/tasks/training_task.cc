#include "tasks/training_task.h"

#include "seqtrain/error.h"
#include "tasks/mlm_training_task.h"
#include "tasks/sequence_training_task.h"

namespace seqtrain {

void TrainingTask::initialize_from(const std::filesystem::path& directory) {
  SEQTRAIN_CHECK(false, "this task cannot start from {} (the config check lets only mlm through)",
                 directory.string());
}

std::vector<nlohmann::json> TrainingTask::fill_masks(const std::vector<std::string>&,
                                                     std::int64_t) {
  SEQTRAIN_CHECK(false, "fill-mask predictions asked of a task that is not mlm");
  return {};
}

void TrainingTask::train_on_rank_slice(int, int world_size) {
  if (world_size > 1)
    throw ConfigError(
        "task mlm does not train data-parallel yet (its batches are not split over ranks; "
        "docs/distributed.md): run it as one process");
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
