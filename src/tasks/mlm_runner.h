// MlmRunner: feeds MlmBatches to a masked-LM model's graphs (BertModel's). It keeps one Executor
// per (batch, length, masked slots, training) layout, built on first use and
// then replayed: a short last validation batch adds one; a phase change (a
// training batch of a new length) replaces those of the old length.
//
// Metrics of a batch: the graph's loss (mean cross-entropy over the used
// slots) times the used slots, the used slots whose logits' argmax is the
// label (logits read back to the host), and the non-padding tokens read.
#pragma once

#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "data/mlm_batch.h"
#include "models/model.h"
#include "seqtrain/executor.h"
#include "tasks/graph_cache.h"
#include "tasks/task_metrics.h"

namespace seqtrain {

// The model's view of a batch: its tensors by graph input name, without the
// data layer's type.
ModelInputs mlm_inputs(const MlmBatch& batch);
// The graph shape of batch rows of length tokens with masked_per_sequence
// decoder slots each.
GraphShape mlm_graph_shape(int batch, int length, int masked_per_sequence);

// What the decoder said at each of a batch's B * P slots, unused slots
// included (their entries mean nothing).
struct MlmSlotPredictions {
  std::vector<std::int32_t> tokens;  // argmax of the logits (the first of equal maxima)
  std::vector<double> losses;        // -log softmax(logits)[label], nats; 0 at unused slots

  bool empty() const { return tokens.empty(); }
};

class MlmRunner {
 public:
  // model: a graph of GraphShape (batch, length, masked_per_sequence) takes
  // mlm_inputs and outputs the logits at the masked slots (BertModel).
  MlmRunner(const Model& model, Backend& backend, ParameterStore& parameters);

  // Forward and backward: parameter gradients accumulate.
  TaskMetrics train_batch(const MlmBatch& batch, const RunContext& context);
  // Forward only, dropout off. slots, when given, receives what the decoder
  // said at each of the batch's B * P slots, or is left empty when the loss
  // is not finite.
  TaskMetrics evaluate_batch(const MlmBatch& batch, MlmSlotPredictions* slots = nullptr);
  // Forward only: the decoder's logits [B * P, V] at the batch's slots.
  Tensor predict_batch(const MlmBatch& batch);

  std::pair<std::int64_t, std::int64_t> planned_bytes() const;
  // The activation arena the training graph of this layout would plan,
  // without building an executor or allocating anything.
  std::int64_t planned_training_arena_bytes(int batch, int length, int masked_per_sequence) const;

 private:
  struct CachedGraph {
    std::unique_ptr<Executor> executor;
    ValueId loss = kNoValue;
    ValueId logits = kNoValue;
  };
  CachedGraph& graph_for(const MlmBatch& batch, bool training);
  TaskMetrics run(const MlmBatch& batch, bool training, const RunContext& context,
                  MlmSlotPredictions* slots);

  const Model* model_;
  Backend* backend_;
  ParameterStore* parameters_;
  GraphCache<std::pair<GraphShape, bool>, CachedGraph> cache_;  // shape, training
};

// The index of the largest logit of each row of logits [N, V] (the first of
// equal maxima): the predicted token of each slot.
std::vector<std::int32_t> predicted_tokens_of(const Tensor& logits);

// The predicted tokens and each used slot's cross-entropy (computed in
// double on the host) of logits [N, V] against labels [N].
MlmSlotPredictions slot_predictions_of(const Tensor& logits, const Tensor& labels);

// Of the used slots (label != kIgnoreTarget), how many have predicted token
// (predicted_tokens_of) equal to their label.
std::int64_t count_correct_predictions(std::span<const std::int32_t> predicted_tokens,
                                       const Tensor& labels);

}  // namespace seqtrain
