#include "train/mlm_runner.h"

#include <cmath>

#include "data/sequence_batch.h"
#include "seqtrain/error.h"

namespace seqtrain {

std::int64_t count_correct_predictions(const Tensor& logits, const Tensor& labels) {
  SEQTRAIN_CHECK(logits.shape().size() == 2 && labels.numel() == logits.dim(0),
                 "logits {} do not match labels {}", shape_string(logits.shape()),
                 shape_string(labels.shape()));
  const std::int64_t classes = logits.dim(1);
  const float* values = logits.data<float>();
  const std::int32_t* targets = labels.data<std::int32_t>();
  std::int64_t correct = 0;
  for (std::int64_t row = 0; row < logits.dim(0); ++row) {
    if (targets[row] == kIgnoreTarget) continue;
    const float* scores = values + row * classes;
    std::int64_t best = 0;
    for (std::int64_t c = 1; c < classes; ++c)
      if (scores[c] > scores[best]) best = c;
    correct += best == targets[row];
  }
  return correct;
}

MlmRunner::MlmRunner(const BertModel& model, Backend& backend, ParameterStore& parameters)
    : model_(&model), backend_(&backend), parameters_(&parameters) {}

MlmRunner::CachedGraph& MlmRunner::graph_for(const MlmBatch& batch, bool training) {
  const auto key = std::make_tuple(batch.batch_size(), batch.sequence_length(),
                                   batch.masked_per_sequence(), training);
  return cache_.find_or_build(key, [&] {
    BertGraph built = model_->build_graph(static_cast<int>(batch.batch_size()),
                                          static_cast<int>(batch.sequence_length()),
                                          static_cast<int>(batch.masked_per_sequence()));
    CachedGraph cached;
    cached.loss = built.loss;
    cached.logits = built.logits;
    cached.executor =
        std::make_unique<Executor>(std::move(built.graph), *backend_, *parameters_, training);
    return cached;
  });
}

TaskMetrics MlmRunner::run(const MlmBatch& batch, bool training, const RunContext& context) {
  CachedGraph& cached = graph_for(batch, training);
  Executor& executor = *cached.executor;
  model_->set_inputs(executor, batch);
  if (training)
    executor.forward_backward(context);
  else
    executor.forward(context);

  TaskMetrics metrics;
  for (std::int32_t length : batch.lengths.span<std::int32_t>()) metrics.tokens += length;
  metrics.rows = batch.masked_count;
  if (metrics.rows == 0) return metrics;  // nothing masked: no loss to report
  const float loss = executor.loss_value();
  metrics.loss_sum = static_cast<double>(loss) * static_cast<double>(metrics.rows);
  if (!std::isfinite(loss)) return metrics;
  metrics.correct =
      count_correct_predictions(executor.value_to_host(cached.logits), batch.masked_labels);
  return metrics;
}

TaskMetrics MlmRunner::train_batch(const MlmBatch& batch, const RunContext& context) {
  return run(batch, true, context);
}

TaskMetrics MlmRunner::evaluate_batch(const MlmBatch& batch) {
  RunContext context;
  context.training = false;
  return run(batch, false, context);
}

std::pair<std::int64_t, std::int64_t> MlmRunner::planned_bytes() const {
  return cache_.planned_bytes();
}

}  // namespace seqtrain
