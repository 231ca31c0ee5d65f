// SequenceRunner: feeds SequenceBatches to a SequenceModel's graphs. It keeps
// one Executor per (steps, batch, training) shape, built on first use and then
// replayed, and the recurrent state that truncated BPTT carries from one
// batch to the next (detached: gradients stop at the batch boundary).
#pragma once

#include <memory>
#include <utility>
#include <vector>

#include "data/sequence_batch.h"
#include "models/sequence_model.h"
#include "seqtrain/executor.h"
#include "tasks/graph_cache.h"
#include "tasks/task_metrics.h"

namespace seqtrain {

// The model's view of a batch: its tensors by graph input name (tokens or
// features, lengths, targets).
ModelInputs sequence_inputs(const SequenceBatch& batch);

class SequenceRunner {
 public:
  SequenceRunner(const SequenceModel& model, Backend& backend, ParameterStore& parameters,
                 bool carry_state);

  // Forward and backward on one batch: parameter gradients accumulate. The
  // metrics' tokens are the batch's valid steps (the sum of its lengths).
  TaskMetrics train_batch(const SequenceBatch& batch, const RunContext& context);
  // Forward only, with the evaluation state stream (reset by reset_evaluation_state).
  // output, when given, receives the model's output on the host (logits or
  // predictions; undefined when the loss is not finite).
  TaskMetrics evaluate_batch(const SequenceBatch& batch, Tensor* output = nullptr);
  void reset_evaluation_state() { evaluation_state_.clear(); }
  // Forward only on one batch, every row from a zero state: the model's
  // output on the host (logits [rows, classes]; adding: predictions [B, 1]).
  Tensor predict_batch(const SequenceBatch& batch);

  // The carried training state (host tensors), for checkpoints.
  const std::vector<Tensor>& training_state() const { return training_state_; }
  void set_training_state(std::vector<Tensor> state) { training_state_ = std::move(state); }

  // Bytes planned for activations across the cached graphs, and what one
  // buffer per tensor would take.
  std::pair<std::int64_t, std::int64_t> planned_bytes() const;
  // The activation arena the training graph of steps x batch would plan,
  // without building an executor or allocating anything.
  std::int64_t planned_training_arena_bytes(int steps, int batch) const;

 private:
  struct CachedGraph {
    std::unique_ptr<Executor> executor;
    ModelGraph ids;  // value ids (the graph itself moved into the executor)
  };
  GraphShape graph_shape(int steps, int batch) const;
  CachedGraph& graph_for(int steps, int batch, bool training);
  TaskMetrics run(const SequenceBatch& batch, bool training, const RunContext& context,
                  std::vector<Tensor>& state, Tensor* output_out = nullptr);

  const SequenceModel* model_;
  Backend* backend_;
  ParameterStore* parameters_;
  bool carry_state_;
  GraphCache<std::pair<GraphShape, bool>, CachedGraph> cache_;  // shape, training
  std::vector<Tensor> training_state_;
  std::vector<Tensor> evaluation_state_;
};

}  // namespace seqtrain
