#include "tasks/training_task.h"

#include <fmt/format.h>

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
  SEQTRAIN_CHECK(world_size == 1, "this task does not split its batches over {} ranks",
                 world_size);
}

std::int64_t RankRows::first_row(std::int64_t global_rows) const {
  return rank * rows(global_rows);
}

std::int64_t RankRows::rows(std::int64_t global_rows) const {
  return global_rows / world_size;
}

RunContext RankRows::context_for(const RunContext& context, std::int64_t global_rows) const {
  RunContext sliced = context;
  if (world_size > 1) {
    sliced.first_row = first_row(global_rows);
    sliced.rows = rows(global_rows);
    sliced.global_rows = global_rows;
  }
  return sliced;
}

void RankRows::check_divides(std::int64_t batch_size, const std::string& key) const {
  if (batch_size % world_size != 0)
    throw ConfigError(fmt::format(
        "{} = {}: the global batch must divide by the {} ranks; make it a multiple of {}", key,
        batch_size, world_size, world_size));
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
