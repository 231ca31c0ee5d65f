// TrainingTask: what the trainer loop (trainer.h) needs from one family of
// tasks: the sequence tasks (charlm, adding, classification) on the recurrent
// models, and masked-LM pretraining (mlm) on BERT. The loop owns the step
// count, gradient accumulation, clipping, the optimizer, the schedule, logging
// cadences and checkpoint files; a task owns its data, model, cached graphs,
// metrics and what of its state a checkpoint must keep.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "config/run_config.h"
#include "dist/communicator.h"
#include "seqtrain/backend.h"
#include "seqtrain/parameters.h"
#include "train/checkpoint.h"
#include "tasks/task_metrics.h"

namespace seqtrain {

// A data-parallel rank's share of every global training batch: rows
// [rank * B / N, (rank + 1) * B / N) of a batch of B rows, B divisible by N.
struct RankRows {
  int rank = 0;
  int world_size = 1;

  // The first row and the row count of this rank's slice of B rows.
  std::int64_t first_row(std::int64_t global_rows) const;
  std::int64_t rows(std::int64_t global_rows) const;
  // context for this rank's slice: dropout draws the global rows' masks
  // (RunContext::first_row); unchanged for one rank.
  RunContext context_for(const RunContext& context, std::int64_t global_rows) const;
  // ConfigError naming `key` when batch_size does not divide by the ranks.
  void check_divides(std::int64_t batch_size, const std::string& key) const;
};

class TrainingTask {
 public:
  virtual ~TrainingTask() = default;

  // Forward and backward on the next training batch: parameter gradients
  // accumulate. context carries the seed and the micro-batch's index (dropout).
  virtual TaskMetrics train_batch(const RunContext& context) = 0;
  // The task's fields of a training record ("loss", "accuracy", ...) from the
  // metrics of the steps since the last record.
  virtual void describe_training(const TaskMetrics& window, nlohmann::json& record) const = 0;
  // Validation metrics over the first max_batches validation batches.
  virtual nlohmann::json evaluate(std::int64_t max_batches) = 0;
  // The same with what `seqtrain eval` adds for a person (classification:
  // per-class precision and recall and the confusion matrix).
  virtual nlohmann::json evaluate_in_detail(std::int64_t max_batches) {
    return evaluate(max_batches);
  }

  // The task's part of a checkpoint's trainer state: JSON (the data position)
  // written into the trainer_state object, and tensors (carried state) added
  // to tensors (train/checkpoint.h keeps them in trainer_state.safetensors).
  virtual void save_state(nlohmann::json& trainer_state, std::vector<NamedTensor>& tensors) const = 0;
  // CheckpointError when the state is malformed or belongs to other data.
  virtual void restore_state(const nlohmann::json& trainer_state,
                             const std::map<std::string, Tensor>& tensors) = 0;

  // Warnings about the run's plan (a data phase that will not run), logged
  // once by the trainer before training; eval and generate do not repeat them.
  virtual void warn_about_plan(std::int64_t /*total_steps*/) const {}

  // mlm: for each line, the likeliest tokens at every [MASK] it spells out,
  // as JSON records (seqtrain predict); the sequence tasks predict through
  // tasks/prediction.h instead, and refuse this.
  virtual std::vector<nlohmann::json> fill_masks(const std::vector<std::string>& lines,
                                                 std::int64_t top_k);

  // How the model's weights are stored in checkpoints.
  virtual ModelCheckpointFormat checkpoint_format() = 0;
  // Fresh runs with training.init_from: start from those weights.
  virtual void initialize_from(const std::filesystem::path& directory);
  // Data parallel (dist/communicator.h): train on rows [rank * B / N,
  // (rank + 1) * B / N) of every global training batch of B rows (B divides
  // by N). Validation stays whole. By default only one rank is accepted: a
  // ConfigError for tasks that cannot split their batches yet.
  virtual void train_on_rank_slice(int rank, int world_size);
  // Data parallel: every rank calls this before rank 0 saves a checkpoint, so
  // that state split over the ranks by rows (a charlm run's carried recurrent
  // state) is gathered whole for save_state, as one process would keep it;
  // restore_state then takes this rank's rows. Nothing by default.
  virtual void gather_state(Communicator& /*communicator*/) {}

  // Bytes planned for activations across the cached graphs, and what one
  // buffer per tensor would take.
  virtual std::pair<std::int64_t, std::int64_t> planned_bytes() const = 0;
  // The activation arena of the largest training graph the run's config will
  // build (every phase), planned without allocating it.
  virtual std::int64_t largest_training_arena_bytes() const = 0;
};

// What a task is made for: a fresh run, or a run that exists (resumed or
// evaluated), whose prepared mlm data may be used after its corpus is gone.
enum class RunStart { fresh, existing };

// The task of config.task on backend, with its model's parameters added to
// `parameters` and initialised from the seed. Data a task prepares (the
// charlm vocabulary, the mlm tokenizer and shards) goes into run_dir, or is
// reused from there.
std::unique_ptr<TrainingTask> make_training_task(const RunConfig& config,
                                                 const std::filesystem::path& run_dir,
                                                 Backend& backend, ParameterStore& parameters,
                                                 RunStart start = RunStart::fresh);

}  // namespace seqtrain
