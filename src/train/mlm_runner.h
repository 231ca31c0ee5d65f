// MlmRunner: feeds MlmBatches to a BertModel's graphs. It keeps one Executor
// per (batch, length, masked slots, training) layout, built on first use and
// then replayed: a phase change or a short last validation batch adds one.
//
// Metrics of a batch: the graph's loss (mean cross-entropy over the used
// slots) times the used slots, the used slots whose logits' argmax is the
// label (logits read back to the host), and the non-padding tokens read.
#pragma once

#include <memory>
#include <tuple>
#include <utility>

#include "data/mlm_batch.h"
#include "models/bert.h"
#include "seqtrain/executor.h"
#include "train/graph_cache.h"
#include "train/task_metrics.h"

namespace seqtrain {

class MlmRunner {
 public:
  MlmRunner(const BertModel& model, Backend& backend, ParameterStore& parameters);

  // Forward and backward: parameter gradients accumulate.
  TaskMetrics train_batch(const MlmBatch& batch, const RunContext& context);
  // Forward only, dropout off.
  TaskMetrics evaluate_batch(const MlmBatch& batch);

  std::pair<std::int64_t, std::int64_t> planned_bytes() const;

 private:
  struct CachedGraph {
    std::unique_ptr<Executor> executor;
    ValueId loss = kNoValue;
    ValueId logits = kNoValue;
  };
  CachedGraph& graph_for(const MlmBatch& batch, bool training);
  TaskMetrics run(const MlmBatch& batch, bool training, const RunContext& context);

  const BertModel* model_;
  Backend* backend_;
  ParameterStore* parameters_;
  GraphCache<std::tuple<std::int64_t, std::int64_t, std::int64_t, bool>, CachedGraph> cache_;
};

// Of the used slots (label != kIgnoreTarget) of logits [B * P, V], how many
// have their largest logit at the label (the first of equal maxima).
std::int64_t count_correct_predictions(const Tensor& logits, const Tensor& labels);

}  // namespace seqtrain
