#include "tasks/sequence_runner.h"

#include <cmath>

namespace seqtrain {

SequenceRunner::SequenceRunner(const SequenceModel& model, Backend& backend,
                               ParameterStore& parameters, bool carry_state)
    : model_(&model), backend_(&backend), parameters_(&parameters), carry_state_(carry_state) {}

GraphShape SequenceRunner::graph_shape(int steps, int batch) const {
  GraphShape shape;
  shape.batch = batch;
  shape.length = steps;
  shape.with_state = carry_state_;
  return shape;
}

SequenceRunner::CachedGraph& SequenceRunner::graph_for(int steps, int batch, bool training) {
  const auto key = std::make_pair(graph_shape(steps, batch), training);
  return cache_.find_or_build(key, [&] {
    ModelGraph built = model_->build_graph(key.first);
    CachedGraph cached;
    cached.executor =
        std::make_unique<Executor>(std::move(built.graph), *backend_, *parameters_, training);
    cached.ids = std::move(built);
    return cached;
  });
}

namespace {

// Rows that count towards the loss, and how many of them the argmax gets right.
TaskMetrics score(Task task, const Tensor& output, const SequenceBatch& batch, float loss) {
  TaskMetrics metrics;
  if (task == Task::adding) {
    metrics.rows = batch.batch_size();
    metrics.loss_sum = static_cast<double>(loss) * static_cast<double>(metrics.rows);
    return metrics;
  }
  const std::int64_t classes = output.dim(1);
  const float* logits = output.data<float>();
  const std::int32_t* targets = batch.targets.data<std::int32_t>();
  for (std::int64_t r = 0; r < output.dim(0); ++r) {
    if (targets[r] == kIgnoreTarget) continue;
    ++metrics.rows;
    const float* row = logits + r * classes;
    std::int64_t best = 0;
    for (std::int64_t c = 1; c < classes; ++c)
      if (row[c] > row[best]) best = c;
    metrics.correct += best == targets[r];
  }
  metrics.loss_sum = static_cast<double>(loss) * static_cast<double>(metrics.rows);
  return metrics;
}

// The rows the loss averages over: every row (adding), or the targets that
// are not kIgnoreTarget (charlm's steps, classification's examples).
std::int64_t scored_rows(const SequenceBatch& batch) {
  if (batch.targets.dtype() != DType::i32) return batch.batch_size();
  std::int64_t rows = 0;
  for (std::int32_t target : batch.targets.span<std::int32_t>()) rows += target != kIgnoreTarget;
  return rows;
}

}  // namespace

ModelInputs sequence_inputs(const SequenceBatch& batch) {
  ModelInputs inputs;
  if (batch.tokens.defined() && batch.tokens.numel() > 0)
    inputs.push_back({model_io::kTokens, batch.tokens});
  if (batch.features.defined() && batch.features.numel() > 0)
    inputs.push_back({model_io::kFeatures, batch.features});
  inputs.push_back({model_io::kLengths, batch.lengths});
  inputs.push_back({model_io::kTargets, batch.targets});
  return inputs;
}

TaskMetrics SequenceRunner::run(const SequenceBatch& batch, bool training,
                                const RunContext& context, std::vector<Tensor>& state,
                                Tensor* output_out) {
  const int steps = static_cast<int>(batch.steps());
  const int rows = static_cast<int>(batch.batch_size());
  CachedGraph& cached = graph_for(steps, rows, training);
  Executor& executor = *cached.executor;
  model_->bind_inputs(executor, sequence_inputs(batch));

  const auto& initial = cached.ids.initial_states;
  const bool carry = batch.continues_previous && !state.empty();
  if (carry && state.size() != initial.size())
    throw CheckpointError(fmt::format(
        "the carried recurrent state has {} tensors, the model's has {}: the checkpoint's "
        "trainer_state.json (carried_state) belongs to another model",
        state.size(), initial.size()));
  for (std::size_t i = 0; carry && i < initial.size(); ++i)
    if (state[i].shape() != executor.input(initial[i]).shape())
      throw CheckpointError(fmt::format(
          "the carried recurrent state {} is {}, the model's is {}: the checkpoint's "
          "trainer_state.json (carried_state) belongs to another model or batch size",
          i, shape_string(state[i].shape()), shape_string(executor.input(initial[i]).shape())));
  for (std::size_t i = 0; i < initial.size(); ++i) {
    Tensor& input = executor.input(initial[i]);
    if (carry)
      backend_->copy_from_host(state[i], input);
    else
      backend_->fill_zero(input);
  }

  if (training)
    executor.forward_backward(
        context, context.sum_loss_over_rows ? static_cast<float>(scored_rows(batch)) : 1.0f);
  else
    executor.forward(context);

  state.clear();
  for (ValueId final_state : cached.ids.final_states)
    state.push_back(executor.value_to_host(final_state));
  const float loss = executor.loss_value();
  std::int64_t tokens = 0;
  for (std::int32_t length : batch.lengths.span<std::int32_t>()) tokens += length;
  if (!std::isfinite(loss)) return {static_cast<double>(loss), 1, 0, tokens};
  Tensor output = model_->spec().task == Task::adding && output_out == nullptr
                      ? Tensor()
                      : executor.value_to_host(cached.ids.output);
  TaskMetrics metrics = score(model_->spec().task, output, batch, loss);
  if (output_out != nullptr) *output_out = std::move(output);
  metrics.tokens = tokens;
  return metrics;
}

TaskMetrics SequenceRunner::train_batch(const SequenceBatch& batch, const RunContext& context) {
  return run(batch, true, context, training_state_);
}

TaskMetrics SequenceRunner::evaluate_batch(const SequenceBatch& batch, Tensor* output) {
  RunContext context;
  context.training = false;
  return run(batch, false, context, evaluation_state_, output);
}

Tensor SequenceRunner::predict_batch(const SequenceBatch& batch) {
  RunContext context;
  context.training = false;
  SequenceBatch from_zero = batch;
  from_zero.continues_previous = false;
  std::vector<Tensor> unused_state;
  run(from_zero, false, context, unused_state);
  const CachedGraph& cached =
      graph_for(static_cast<int>(batch.steps()), static_cast<int>(batch.batch_size()), false);
  return cached.executor->value_to_host(cached.ids.output);
}

std::pair<std::int64_t, std::int64_t> SequenceRunner::planned_bytes() const {
  return cache_.planned_bytes();
}

std::int64_t SequenceRunner::planned_training_arena_bytes(int steps, int batch) const {
  ModelGraph built = model_->build_graph(graph_shape(steps, batch));
  append_backward(built.graph);  // as the training executor does
  return plan_memory(built.graph).arena_bytes;
}

}  // namespace seqtrain
