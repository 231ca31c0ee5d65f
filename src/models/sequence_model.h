// The models of the sequence tasks (charlm, adding, classification), behind
// one interface (SequenceModel) that the tasks' runner, evaluation and
// sampling use; make_sequence_model builds the one model.type names, from the
// factories the model files register. The recurrent model
// (RecurrentSequenceModel, below) is an input layer (an embedding of
// token ids, or the raw per-step features), a recurrent stack (LSTM, GRU or
// tanh RNN; layers; optionally bidirectional) and a task head:
//   charlm          a linear decoder on every step's output -> next-token logits
//   adding          a linear layer on the final state -> one number (MSE)
//   classification  a linear layer on the final states (both directions) -> class logits
// Parameter names follow PyTorch (nn.Embedding, nn.LSTM, nn.Linear):
// "embedding.weight", "rnn.weight_ih_l0", "head.weight", "head.bias".
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/model.h"
#include "models/model_type.h"
#include "models/recurrent_stack.h"
#include "seqtrain/graph.h"
#include "seqtrain/parameters.h"
#include "seqtrain/task.h"

namespace seqtrain {

// task picks the head: charlm, adding or classification (not mlm); type the
// model (lstm, gru or rnn: the recurrent stack's cell).
struct SequenceModelSpec {
  Task task = Task::charlm;
  ModelType type = ModelType::lstm;
  int layers = 1;
  int hidden_size = 128;
  bool bidirectional = false;
  float dropout = 0.0f;
  int vocabulary_size = 0;  // charlm, classification
  int embedding_size = 0;   // charlm, classification
  int feature_size = 0;     // adding: values per step
  int output_size = 0;      // charlm: vocabulary; adding: 1; classification: classes
  // transformer
  int heads = 4;              // hidden_size / heads: 32, 64 or 128
  int intermediate_size = 0;  // the feed-forward width
  int max_positions = 0;      // the longest sequence (data.sequence_length)
};

// What the sequence tasks need of a model. Adding a model for them: a
// ModelType (model_type.h) and a class implementing this whose file
// registers its factory (SEQTRAIN_REGISTER_SEQUENCE_MODEL; docs/architecture.md).
// Its graphs (Model::build_graph) take shape.length steps of shape.batch
// sequences: inputs model_io::kTokens or kFeatures, kLengths and, with
// targets, kTargets; output the head's logits or predictions.
class SequenceModel : public Model {
 public:
  virtual const SequenceModelSpec& spec() const = 0;
  // How a charlm of this model is sampled (tasks/sampling.h): 0 for a model
  // that carries its state from step to step (a graph of one step with
  // with_state); otherwise it carries nothing and re-encodes the last
  // sampling_window() tokens of the prefix every step (a causal Transformer).
  virtual std::int64_t sampling_window() const { return 0; }
};

// The model spec.type names; its parameters are added to the store and
// initialised from the run's seed. A ConfigError for a type that cannot
// serve the sequence tasks.
std::unique_ptr<SequenceModel> make_sequence_model(const SequenceModelSpec& spec,
                                                   ParameterStore& parameters, std::uint64_t seed);

// A model file makes its type available to make_sequence_model with
//   SEQTRAIN_REGISTER_SEQUENCE_MODEL(ModelType::x, [](const SequenceModelSpec& spec,
//       ParameterStore& parameters, std::uint64_t seed) { return std::make_unique<X>(...); });
// at namespace scope (a registration when the library loads).
using SequenceModelFactory = std::unique_ptr<SequenceModel> (*)(const SequenceModelSpec& spec,
                                                                ParameterStore& parameters,
                                                                std::uint64_t seed);
bool register_sequence_model(ModelType type, SequenceModelFactory factory);
#define SEQTRAIN_REGISTER_SEQUENCE_MODEL_NAME2(line) sequence_model_registered_##line
#define SEQTRAIN_REGISTER_SEQUENCE_MODEL_NAME(line) SEQTRAIN_REGISTER_SEQUENCE_MODEL_NAME2(line)
#define SEQTRAIN_REGISTER_SEQUENCE_MODEL(type, factory)                                   \
  [[maybe_unused]] static const bool SEQTRAIN_REGISTER_SEQUENCE_MODEL_NAME(__LINE__) = \
      ::seqtrain::register_sequence_model(type, factory)

class RecurrentSequenceModel final : public SequenceModel {
 public:
  // Adds the parameters to the store with PyTorch's default initialisation
  // (normal(0, 1) for the embedding, uniform +-1/sqrt(fan) for the stack and
  // the head), drawn from the run's seed. spec.type: lstm, gru or rnn.
  RecurrentSequenceModel(const SequenceModelSpec& spec, ParameterStore& parameters,
                         std::uint64_t seed);

  ModelGraph build_graph(const GraphShape& shape) const override;
  const SequenceModelSpec& spec() const override { return spec_; }

 private:
  SequenceModelSpec spec_;
  RecurrentStackSpec stack_;
};

}  // namespace seqtrain
