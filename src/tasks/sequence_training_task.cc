#include "tasks/sequence_training_task.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>

#include "models/sequence_model_init.h"
#include "tasks/evaluation.h"
#include "tasks/sequence_runner.h"
#include "tasks/sequence_task.h"

namespace seqtrain {
namespace {

// The carried state's tensors are "carried_state.<i>" in
// trainer_state.safetensors, their count "carried_state_tensors" in the JSON.
constexpr const char* kCarriedStateCount = "carried_state_tensors";
std::string carried_state_name(std::size_t index) { return fmt::format("carried_state.{}", index); }

void check_carried_shape(const Shape& shape, const char* file) {
  if (std::any_of(shape.begin(), shape.end(), [](std::int64_t dim) { return dim < 1; }))
    throw CheckpointError(fmt::format(
        "{}: carried_state has a tensor of shape {}; every dimension must be >= 1", file,
        shape_string(shape)));
}

std::vector<Tensor> carried_state_from_tensors(const nlohmann::json& trainer_state,
                                               const std::map<std::string, Tensor>& tensors) {
  const nlohmann::json& saved_count = trainer_state.at(kCarriedStateCount);
  const auto count = saved_count.is_number_integer() ? saved_count.get<std::int64_t>() : -1;
  if (count < 0 || count > 1024)
    throw CheckpointError(fmt::format("trainer_state.json: {} = {} is not a tensor count",
                                      kCarriedStateCount, saved_count.dump()));
  std::vector<Tensor> state;
  for (std::size_t index = 0; index < static_cast<std::size_t>(count); ++index) {
    const auto found = tensors.find(carried_state_name(index));
    if (found == tensors.end())
      throw CheckpointError(fmt::format("trainer_state.safetensors has no tensor '{}' of the "
                                        "carried state ({} tensors)",
                                        carried_state_name(index), count));
    if (found->second.dtype() != DType::f32)
      throw CheckpointError(fmt::format("trainer_state.safetensors: '{}' is {}, not F32",
                                        found->first, dtype_name(found->second.dtype())));
    check_carried_shape(found->second.shape(), "trainer_state.safetensors");
    state.push_back(found->second);
  }
  return state;
}

// Checkpoints written before trainer_state.safetensors: the carried state as
// JSON numbers, [{"shape", "values"}...].
std::vector<Tensor> carried_state_from_json(const nlohmann::json& json) {
  std::vector<Tensor> state;
  for (const auto& entry : json) {
    Shape shape = entry.at("shape").get<Shape>();
    std::vector<float> values = entry.at("values").get<std::vector<float>>();
    check_carried_shape(shape, "trainer_state.json");
    if (static_cast<std::int64_t>(values.size()) != shape_numel(shape))
      throw CheckpointError(
          "trainer_state.json: carried_state has a tensor whose values do not fill its shape");
    state.push_back(Tensor::from_vector(values, shape));
  }
  return state;
}

class SequenceTrainingTask final : public TrainingTask {
 public:
  SequenceTrainingTask(const RunConfig& config, const std::filesystem::path& run_dir,
                       Backend& backend, ParameterStore& parameters)
      : config_(config),
        parameters_(&parameters),
        data_(load_sequence_task(config, run_dir)),
        model_(make_sequence_model(data_.model_spec, parameters,
                                   static_cast<std::uint64_t>(config.seed))),
        runner_(*model_, backend, parameters,
                config.task == Task::charlm && config.training.carry_state) {}

  TaskMetrics train_batch(const RunContext& context) override {
    SequenceBatch batch = data_.dataset->next_training_batch();
    if (rank_rows_.world_size == 1) return runner_.train_batch(batch, context);
    const std::int64_t global_rows = batch.batch_size();
    return runner_.train_batch(slice_rows(batch, rank_rows_.first_row(global_rows),
                                          rank_rows_.rows(global_rows)),
                               rank_rows_.context_for(context, global_rows));
  }

  void train_on_rank_slice(int rank, int world_size) override {
    const RankRows rank_rows{rank, world_size};
    rank_rows.check_divides(config_.data.batch_size, "data.batch_size");
    rank_rows_ = rank_rows;
  }

  void describe_training(const TaskMetrics& window, nlohmann::json& record) const override {
    record["loss"] = window.mean_loss();
    if (config_.task != Task::adding) record["accuracy"] = window.accuracy();
  }

  nlohmann::json evaluate(std::int64_t max_batches) override {
    RunConfig config = config_;
    config.training.eval_batches = max_batches;
    return evaluate_sequence_task(runner_, *data_.dataset, config);
  }

  nlohmann::json evaluate_in_detail(std::int64_t max_batches) override {
    RunConfig config = config_;
    config.training.eval_batches = max_batches;
    return evaluate_sequence_task(runner_, *data_.dataset, config, &data_.class_names);
  }

  void gather_state(Communicator& communicator) override {
    gathered_state_.clear();
    if (communicator.world_size() == 1) return;
    // Each state tensor is [rows, hidden] per rank, rank r holding rows
    // [r B / N, (r + 1) B / N): gathered in rank order, they are the global
    // batch's rows in order.
    for (const Tensor& mine : runner_.training_state()) {
      Tensor all = Tensor::empty({mine.shape()[0] * communicator.world_size(), mine.shape()[1]},
                                 DType::f32);
      communicator.all_gather(mine.span<float>(), all.span<float>());
      gathered_state_.push_back(std::move(all));
    }
  }

  void save_state(nlohmann::json& trainer_state, std::vector<NamedTensor>& tensors) const override {
    trainer_state["data_position"] = data_.dataset->position_json();
    const std::vector<Tensor>& carried =
        rank_rows_.world_size == 1 ? runner_.training_state() : gathered_state_;
    trainer_state[kCarriedStateCount] = carried.size();
    for (std::size_t index = 0; index < carried.size(); ++index)
      tensors.push_back({carried_state_name(index), carried[index]});
  }

  void restore_state(const nlohmann::json& trainer_state,
                     const std::map<std::string, Tensor>& tensors) override {
    data_.dataset->restore_position_json(trainer_state.at("data_position"));
    std::vector<Tensor> carried = trainer_state.contains("carried_state")
                                      ? carried_state_from_json(trainer_state.at("carried_state"))
                                      : carried_state_from_tensors(trainer_state, tensors);
    if (rank_rows_.world_size > 1)
      for (Tensor& state : carried) state = this_ranks_rows(state);
    runner_.set_training_state(std::move(carried));
  }

  ModelCheckpointFormat checkpoint_format() override {
    return parameter_checkpoint_format(*parameters_);
  }

  void initialize_from(const std::filesystem::path& source) override {
    const InitFromResult result =
        initialize_sequence_model_from(source, model_->parameter_names(), *parameters_);
    spdlog::info("initialised {} of {} parameters from {}{}", result.loaded.size(),
                 model_->parameter_names().size(), result.file.string(),
                 result.kept_fresh.empty()
                     ? std::string()
                     : fmt::format("; freshly initialised: {}", fmt::join(result.kept_fresh, ", ")));
  }

  std::pair<std::int64_t, std::int64_t> planned_bytes() const override {
    return runner_.planned_bytes();
  }

  // Batches are at most data.sequence_length steps of data.batch_size rows.
  std::int64_t largest_training_arena_bytes() const override {
    auto as_int = [](std::int64_t value) {
      return static_cast<int>(std::min<std::int64_t>(value, std::numeric_limits<int>::max()));
    };
    return runner_.planned_training_arena_bytes(as_int(config_.data.sequence_length),
                                                as_int(config_.data.batch_size));
  }

 private:
  RunConfig config_;
  // Rows [first, first + rows) of a carried state tensor of the global batch.
  Tensor this_ranks_rows(const Tensor& state) const {
    const std::int64_t global_rows = config_.data.batch_size;
    if (state.rank() != 2 || state.shape()[0] != global_rows)
      throw CheckpointError(fmt::format(
          "trainer_state.safetensors: a carried state tensor of shape {} does not hold the {} "
          "rows of data.batch_size: the checkpoint belongs to another batch size",
          shape_string(state.shape()), global_rows));
    const std::int64_t first = rank_rows_.first_row(global_rows), rows = rank_rows_.rows(global_rows);
    const std::int64_t width = state.shape()[1];
    Tensor mine = Tensor::empty({rows, width}, DType::f32);
    std::copy_n(state.span<float>().begin() + first * width, rows * width,
                mine.span<float>().begin());
    return mine;
  }

  RankRows rank_rows_;  // data parallel: this rank's slice of each batch
  std::vector<Tensor> gathered_state_;  // data parallel: the carried state of every rank's rows
  ParameterStore* parameters_;
  SequenceTaskData data_;
  std::unique_ptr<SequenceModel> model_;
  SequenceRunner runner_;
};

}  // namespace

std::unique_ptr<TrainingTask> make_sequence_training_task(const RunConfig& config,
                                                          const std::filesystem::path& run_dir,
                                                          Backend& backend,
                                                          ParameterStore& parameters) {
  return std::make_unique<SequenceTrainingTask>(config, run_dir, backend, parameters);
}

}  // namespace seqtrain
