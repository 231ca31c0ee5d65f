// Model: what every model offers the tasks, whatever its family (BERT, the
// recurrent sequence models, a Transformer for the sequence tasks):
//   build_graph    the graph for one shape (batch, length, ...), with the
//                  value ids a runner reads back (loss, output, carried state)
//   bind_inputs    a batch's host tensors, named as the graph's inputs
//                  (model_io below), copied into an executor of that graph
//   parameter_names  the parameters it added to the store, in order
// A task makes the named inputs from its batches and reads the output; any
// model whose graph takes those inputs and yields the task's head serves it.
#pragma once

#include <string>
#include <vector>

#include "seqtrain/executor.h"
#include "seqtrain/graph.h"
#include "seqtrain/parameters.h"

namespace seqtrain {

// Names of the graphs' inputs, shared by the models and the tasks.
namespace model_io {
// Sequence tasks (charlm, adding, classification).
inline constexpr const char* kTokens = "tokens";      // [T, B] int32
inline constexpr const char* kFeatures = "features";  // [T, B, F] float
inline constexpr const char* kLengths = "lengths";    // [B] int32
inline constexpr const char* kTargets = "targets";    // see SequenceBatch
// Masked LM (data/mlm_batch.h lays them out); lengths as above.
inline constexpr const char* kInputIds = "input_ids";                // [B, T] i32
inline constexpr const char* kTokenTypeIds = "token_type_ids";       // [B, T] i32
inline constexpr const char* kPositionIds = "position_ids";          // [B, T] i32 (the model fills it)
inline constexpr const char* kMaskedPositions = "masked_positions";  // [B * P] i32: b * T + t
inline constexpr const char* kMaskedLabels = "masked_labels";        // [B * P] i32
}  // namespace model_io

// The shape of one graph: what a runner's graph cache keys on.
struct GraphShape {
  int batch = 1;
  int length = 1;                // time steps, or tokens per row
  int masked_per_sequence = 0;   // masked LM: decoder slots per row
  bool with_state = false;       // initial-state inputs and final-state outputs (carried state)
  bool with_targets = true;      // the targets input and the loss

  auto operator<=>(const GraphShape&) const = default;
};

// One graph of a model with the value ids its runner reads.
struct ModelGraph {
  Graph graph;
  ValueId loss = kNoValue;    // [1]; absent when built without targets
  ValueId output = kNoValue;  // logits [rows, classes] or predictions [B, 1]
  // Carried recurrent state: inputs for the initial state and outputs for
  // the final state, by layer/direction (empty for models without state).
  std::vector<ValueId> initial_states;
  std::vector<ValueId> final_states;
};

// One host tensor of a batch, by the graph input it feeds.
struct ModelInput {
  const char* name;
  Tensor tensor;
};
using ModelInputs = std::vector<ModelInput>;

class Model {
 public:
  virtual ~Model() = default;

  virtual ModelGraph build_graph(const GraphShape& shape) const = 0;
  // Copies each input into the executor's input of that name (an executor of
  // a graph this model built). A tensor with the input's element count and
  // type but another shape is reshaped (targets [B] into [B, 1]).
  virtual void bind_inputs(Executor& executor, const ModelInputs& inputs) const;
  // The names of the parameters the model added, in the order it added them.
  const std::vector<std::string>& parameter_names() const { return parameter_names_; }

 protected:
  // The parameters from the store's first_new-th on are the model's.
  void record_parameter_names(const ParameterStore& parameters, std::size_t first_new);

 private:
  std::vector<std::string> parameter_names_;
};

}  // namespace seqtrain
