#include "models/sequence_model.h"

#include <fmt/format.h>

#include <cmath>
#include <map>
#include <string>

#include "models/layers.h"
#include "seqtrain/error.h"
#include "seqtrain/rng.h"

namespace seqtrain {
namespace {

// Streams of the initialisation draws, apart from data and dropout streams.
constexpr std::uint64_t kEmbeddingInitStream = 0x494e495400000001ull;
constexpr std::uint64_t kStackInitStream = 0x494e495400000002ull;
constexpr std::uint64_t kHeadInitStream = 0x494e495400000003ull;
// Dropout nodes draw from streams kDropoutStreamBase + i.
constexpr std::uint64_t kDropoutStreamBase = 0x44524f5000000000ull;

int head_input_size(const SequenceModelSpec& spec) {
  const int directions = spec.bidirectional ? 2 : 1;
  return spec.hidden_size * directions;
}

bool uses_tokens(Task task) { return task != Task::adding; }

}  // namespace

namespace {

std::map<ModelType, SequenceModelFactory>& factories() {
  static std::map<ModelType, SequenceModelFactory> registered;
  return registered;
}

}  // namespace

bool register_sequence_model(ModelType type, SequenceModelFactory factory) {
  return factories().emplace(type, factory).second;
}

std::unique_ptr<SequenceModel> make_sequence_model(const SequenceModelSpec& spec,
                                                   ParameterStore& parameters, std::uint64_t seed) {
  const auto found = factories().find(spec.type);
  if (found == factories().end()) {
    std::string served;
    for (const auto& [type, factory] : factories())
      served += fmt::format("{}{}", served.empty() ? "" : ", ", model_type_name(type));
    throw ConfigError(fmt::format("model.type {} cannot serve task {}; use one of: {}",
                                  model_type_name(spec.type), task_name(spec.task), served));
  }
  return found->second(spec, parameters, seed);
}

namespace {

std::unique_ptr<SequenceModel> make_recurrent(const SequenceModelSpec& spec,
                                              ParameterStore& parameters, std::uint64_t seed) {
  return std::make_unique<RecurrentSequenceModel>(spec, parameters, seed);
}

}  // namespace

SEQTRAIN_REGISTER_SEQUENCE_MODEL(ModelType::lstm, make_recurrent);
SEQTRAIN_REGISTER_SEQUENCE_MODEL(ModelType::gru, make_recurrent);
SEQTRAIN_REGISTER_SEQUENCE_MODEL(ModelType::rnn, make_recurrent);

RecurrentSequenceModel::RecurrentSequenceModel(const SequenceModelSpec& spec,
                                               ParameterStore& parameters, std::uint64_t seed)
    : spec_(spec) {
  SEQTRAIN_CHECK(spec.output_size > 0, "model output size {}", spec.output_size);
  const std::size_t first_parameter = parameters.all().size();
  const std::optional<RnnCell> cell = recurrent_cell_of(spec.type);
  SEQTRAIN_CHECK(cell.has_value(), "a recurrent sequence model of type {}",
                 model_type_name(spec.type));
  stack_.cell = *cell;
  stack_.input_size = uses_tokens(spec.task) ? spec.embedding_size : spec.feature_size;
  stack_.hidden_size = spec.hidden_size;
  stack_.layers = spec.layers;
  stack_.bidirectional = spec.bidirectional;
  stack_.dropout = spec.dropout;
  check_recurrent_stack_spec(stack_);
  if (uses_tokens(spec.task)) {
    Rng rng(seed, kEmbeddingInitStream);
    Parameter& embedding =
        parameters.add("embedding.weight", {spec.vocabulary_size, spec.embedding_size}, true);
    parameters.set_value(embedding, normal_tensor(embedding.value.shape(), 1.0f, rng));
  }
  Rng stack_rng(seed, kStackInitStream);
  add_recurrent_stack_parameters(parameters, stack_, "rnn.", stack_rng);
  // nn.Linear: uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias.
  Rng head_rng(seed, kHeadInitStream);
  const float bound = 1.0f / std::sqrt(static_cast<float>(head_input_size(spec)));
  Parameter& weight = parameters.add("head.weight", {spec.output_size, head_input_size(spec)}, true);
  parameters.set_value(weight, uniform_tensor(weight.value.shape(), bound, head_rng));
  Parameter& bias = parameters.add("head.bias", {spec.output_size}, false);
  parameters.set_value(bias, uniform_tensor(bias.value.shape(), bound, head_rng));
  record_parameter_names(parameters, first_parameter);
}

ModelGraph RecurrentSequenceModel::build_graph(const GraphShape& shape) const {
  const int steps = shape.length, batch = shape.batch;
  const bool with_state = shape.with_state, with_targets = shape.with_targets;
  ModelGraph result;
  Graph& g = result.graph;
  ValueId x;
  if (uses_tokens(spec_.task)) {
    ValueId tokens = g.add_input(model_io::kTokens, {steps, batch}, DType::i32);
    x = add_embedding(g, "embedding.weight", {spec_.vocabulary_size, spec_.embedding_size}, tokens,
                      "embedding");
  } else {
    x = g.add_input(model_io::kFeatures, {steps, batch, spec_.feature_size});
  }
  ValueId lengths = g.add_input(model_io::kLengths, {batch}, DType::i32);

  RecurrentState initial;
  if (with_state) {
    initial = add_recurrent_state_inputs(g, stack_, "rnn.", batch);
    result.initial_states = initial.h;
    result.initial_states.insert(result.initial_states.end(), initial.c.begin(), initial.c.end());
  }
  RecurrentStackOutput stack = add_recurrent_stack(g, stack_, "rnn.", x, lengths,
                                                   with_state ? &initial : nullptr,
                                                   kDropoutStreamBase);
  if (with_state) {
    result.final_states = stack.final_state.h;
    result.final_states.insert(result.final_states.end(), stack.final_state.c.begin(),
                               stack.final_state.c.end());
    for (ValueId final_state : result.final_states) g.mark_output(final_state);
  }

  ValueId features;
  if (spec_.task == Task::charlm) {
    // Every step predicts the next token: [T, B, H] -> [T*B, H].
    features = add_reshape(g, stack.output,
                           {static_cast<std::int64_t>(steps) * batch, head_input_size(spec_)},
                           "head.input");
  } else {
    // The top layer's state after each sequence's last step; both directions'
    // when bidirectional (the reverse direction ends at step 0).
    const int directions = recurrent_directions(stack_);
    const std::size_t top = static_cast<std::size_t>((spec_.layers - 1) * directions);
    features = stack.final_state.h[top];
    if (directions == 2)
      features = g.add(OpKind::concat_last, {features, stack.final_state.h[top + 1]}, {}, "head.input");
  }
  result.output =
      add_linear(g, features, "head", spec_.output_size, head_input_size(spec_), "head");
  g.mark_output(result.output);

  if (with_targets) {
    if (spec_.task == Task::adding) {
      ValueId targets = g.add_input(model_io::kTargets, {batch, 1});
      result.loss = g.add(OpKind::mse, {result.output, targets}, {}, "loss");
    } else {
      const std::int64_t rows = g.value(result.output).shape[0];
      ValueId targets = g.add_input(model_io::kTargets, {rows}, DType::i32);
      result.loss = g.add_node(OpKind::cross_entropy, {result.output, targets}, {}, "loss")[0];
    }
    g.set_loss(result.loss);
  }
  return result;
}

}  // namespace seqtrain
