#include "tasks/mlm_runner.h"

#include <cmath>
#include <vector>

#include "data/sequence_batch.h"
#include "seqtrain/error.h"

namespace seqtrain {

std::vector<std::int32_t> predicted_tokens_of(const Tensor& logits) {
  SEQTRAIN_CHECK(logits.shape().size() == 2 && logits.dtype() == DType::f32,
                 "logits must be f32 [N, V], got {} {}", dtype_name(logits.dtype()),
                 shape_string(logits.shape()));
  const std::int64_t classes = logits.dim(1);
  const float* values = logits.data<float>();
  std::vector<std::int32_t> predicted(static_cast<std::size_t>(logits.dim(0)));
  for (std::int64_t row = 0; row < logits.dim(0); ++row) {
    const float* scores = values + row * classes;
    std::int64_t best = 0;
    for (std::int64_t c = 1; c < classes; ++c)
      if (scores[c] > scores[best]) best = c;
    predicted[static_cast<std::size_t>(row)] = static_cast<std::int32_t>(best);
  }
  return predicted;
}

MlmSlotPredictions slot_predictions_of(const Tensor& logits, const Tensor& labels) {
  SEQTRAIN_CHECK(labels.numel() == logits.dim(0), "logits {} do not match labels {}",
                 shape_string(logits.shape()), shape_string(labels.shape()));
  MlmSlotPredictions slots;
  slots.tokens = predicted_tokens_of(logits);
  slots.losses.assign(slots.tokens.size(), 0.0);
  const std::int64_t classes = logits.dim(1);
  const float* values = logits.data<float>();
  const std::span<const std::int32_t> targets = labels.span<std::int32_t>();
  for (std::size_t slot = 0; slot < targets.size(); ++slot) {
    if (targets[slot] == kIgnoreTarget) continue;
    SEQTRAIN_CHECK(targets[slot] >= 0 && targets[slot] < classes,
                   "label {} at slot {} is outside the {} classes", targets[slot], slot, classes);
    const float* scores = values + static_cast<std::int64_t>(slot) * classes;
    // log sum exp, shifted by the largest logit (the predicted token's).
    const double largest = scores[slots.tokens[slot]];
    double sum = 0.0;
    for (std::int64_t c = 0; c < classes; ++c) sum += std::exp(scores[c] - largest);
    slots.losses[slot] = largest + std::log(sum) - scores[targets[slot]];
  }
  return slots;
}

std::int64_t count_correct_predictions(std::span<const std::int32_t> predicted_tokens,
                                       const Tensor& labels) {
  SEQTRAIN_CHECK(static_cast<std::int64_t>(predicted_tokens.size()) == labels.numel(),
                 "{} predicted tokens do not match labels {}", predicted_tokens.size(),
                 shape_string(labels.shape()));
  const std::span<const std::int32_t> targets = labels.span<std::int32_t>();
  std::int64_t correct = 0;
  for (std::size_t slot = 0; slot < targets.size(); ++slot)
    correct += targets[slot] != kIgnoreTarget && predicted_tokens[slot] == targets[slot];
  return correct;
}

ModelInputs mlm_inputs(const MlmBatch& batch) {
  return {{model_io::kInputIds, batch.input_ids},
          {model_io::kTokenTypeIds, batch.token_type_ids},
          {model_io::kLengths, batch.lengths},
          {model_io::kMaskedPositions, batch.masked_positions},
          {model_io::kMaskedLabels, batch.masked_labels}};
}

GraphShape mlm_graph_shape(int batch, int length, int masked_per_sequence) {
  GraphShape shape;
  shape.batch = batch;
  shape.length = length;
  shape.masked_per_sequence = masked_per_sequence;
  return shape;
}

MlmRunner::MlmRunner(const Model& model, Backend& backend, ParameterStore& parameters)
    : model_(&model), backend_(&backend), parameters_(&parameters) {}

MlmRunner::CachedGraph& MlmRunner::graph_for(const MlmBatch& batch, bool training) {
  const auto key = std::make_pair(mlm_graph_shape(static_cast<int>(batch.batch_size()),
                                                  static_cast<int>(batch.sequence_length()),
                                                  static_cast<int>(batch.masked_per_sequence())),
                                  training);
  // Training at a new sequence length is a phase change: phases only go
  // forward, so the graphs of other lengths (training and validation) are
  // not needed again and their arenas go.
  if (training && !cache_.contains(key))
    cache_.evict_if(
        [&](const auto& cached) { return cached.first.length != key.first.length; });
  return cache_.find_or_build(key, [&] {
    ModelGraph built = model_->build_graph(key.first);
    CachedGraph cached;
    cached.loss = built.loss;
    cached.logits = built.output;
    cached.executor =
        std::make_unique<Executor>(std::move(built.graph), *backend_, *parameters_, training);
    return cached;
  });
}

TaskMetrics MlmRunner::run(const MlmBatch& batch, bool training, const RunContext& context,
                           MlmSlotPredictions* slots) {
  CachedGraph& cached = graph_for(batch, training);
  Executor& executor = *cached.executor;
  model_->bind_inputs(executor, mlm_inputs(batch));
  if (training)
    executor.forward_backward(
        context, context.sum_loss_over_rows ? static_cast<float>(batch.masked_count) : 1.0f);
  else
    executor.forward(context);

  if (slots != nullptr) *slots = {};
  TaskMetrics metrics;
  for (std::int32_t length : batch.lengths.span<std::int32_t>()) metrics.tokens += length;
  metrics.rows = batch.masked_count;
  if (metrics.rows == 0) return metrics;  // nothing masked: no loss to report
  const float loss = executor.loss_value();
  metrics.loss_sum = static_cast<double>(loss) * static_cast<double>(metrics.rows);
  if (!std::isfinite(loss)) return metrics;
  const Tensor logits = executor.value_to_host(cached.logits);
  if (slots == nullptr) {
    metrics.correct = count_correct_predictions(predicted_tokens_of(logits), batch.masked_labels);
    return metrics;
  }
  *slots = slot_predictions_of(logits, batch.masked_labels);
  metrics.correct = count_correct_predictions(slots->tokens, batch.masked_labels);
  return metrics;
}

TaskMetrics MlmRunner::train_batch(const MlmBatch& batch, const RunContext& context) {
  return run(batch, true, context, nullptr);
}

TaskMetrics MlmRunner::evaluate_batch(const MlmBatch& batch, MlmSlotPredictions* slots) {
  RunContext context;
  context.training = false;
  return run(batch, false, context, slots);
}

Tensor MlmRunner::predict_batch(const MlmBatch& batch) {
  evaluate_batch(batch);
  return graph_for(batch, false).executor->value_to_host(graph_for(batch, false).logits);
}

std::pair<std::int64_t, std::int64_t> MlmRunner::planned_bytes() const {
  return cache_.planned_bytes();
}

std::int64_t MlmRunner::planned_training_arena_bytes(int batch, int length,
                                                     int masked_per_sequence) const {
  ModelGraph built = model_->build_graph(mlm_graph_shape(batch, length, masked_per_sequence));
  append_backward(built.graph);  // as the training executor does
  return plan_memory(built.graph).arena_bytes;
}

}  // namespace seqtrain
