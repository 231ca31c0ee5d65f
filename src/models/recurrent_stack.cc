#include "models/recurrent_stack.h"

#include <fmt/format.h>

#include <cmath>

#include "models/layers.h"

namespace seqtrain {
namespace {

std::string direction_suffix(bool reverse) {
  return reverse ? "_reverse" : "";
}

std::int64_t layer_input_size(const RecurrentStackSpec& spec, int layer) {
  return layer == 0 ? spec.input_size
                    : static_cast<std::int64_t>(spec.hidden_size) * recurrent_directions(spec);
}

}  // namespace

void check_recurrent_stack_spec(const RecurrentStackSpec& spec) {
  auto fail = [&](const char* field, const std::string& value, const char* accepted) {
    throw ConfigError(fmt::format("recurrent stack ({}): {} = {} is invalid; expected {}",
                                  rnn_cell_name(spec.cell), field, value, accepted));
  };
  if (spec.input_size < 1) fail("input_size", std::to_string(spec.input_size), "at least 1");
  if (spec.hidden_size < 1) fail("hidden_size", std::to_string(spec.hidden_size), "at least 1");
  if (spec.layers < 1) fail("layers", std::to_string(spec.layers), "at least 1");
  if (!(spec.dropout >= 0.0f && spec.dropout < 1.0f))
    fail("dropout", fmt::format("{}", spec.dropout), "a probability in [0, 1)");
}

int recurrent_directions(const RecurrentStackSpec& spec) {
  return spec.bidirectional ? 2 : 1;
}

std::string recurrent_parameter_name(const std::string& prefix, const std::string& kind, int layer,
                                     bool reverse) {
  return fmt::format("{}{}_l{}{}", prefix, kind, layer, direction_suffix(reverse));
}

void add_recurrent_stack_parameters(ParameterStore& store, const RecurrentStackSpec& spec,
                                    const std::string& prefix, Rng& rng) {
  check_recurrent_stack_spec(spec);
  const std::int64_t gates =
      static_cast<std::int64_t>(rnn_gate_count(spec.cell)) * spec.hidden_size;
  const float bound = 1.0f / std::sqrt(static_cast<float>(spec.hidden_size));
  for (int layer = 0; layer < spec.layers; ++layer)
    for (int direction = 0; direction < recurrent_directions(spec); ++direction) {
      const bool reverse = direction == 1;
      auto add = [&](const char* kind, const Shape& shape, bool weight_decay) {
        Parameter& parameter =
            store.add(recurrent_parameter_name(prefix, kind, layer, reverse), shape, weight_decay);
        store.set_value(parameter, uniform_tensor(shape, bound, rng));
      };
      add("weight_ih", {gates, layer_input_size(spec, layer)}, true);
      add("weight_hh", {gates, spec.hidden_size}, true);
      add("bias_ih", {gates}, false);
      add("bias_hh", {gates}, false);
    }
}

RecurrentState add_recurrent_state_inputs(Graph& graph, const RecurrentStackSpec& spec,
                                          const std::string& prefix, std::int64_t batch) {
  check_recurrent_stack_spec(spec);
  RecurrentState state;
  const Shape shape{batch, spec.hidden_size};
  for (int layer = 0; layer < spec.layers; ++layer)
    for (int direction = 0; direction < recurrent_directions(spec); ++direction) {
      const std::string suffix = fmt::format("_l{}{}", layer, direction_suffix(direction == 1));
      state.h.push_back(graph.add_input(prefix + "h0" + suffix, shape));
      if (spec.cell == RnnCell::lstm)
        state.c.push_back(graph.add_input(prefix + "c0" + suffix, shape));
    }
  return state;
}

int recurrent_dropout_streams(const RecurrentStackSpec& spec) {
  return spec.dropout > 0.0f ? spec.layers - 1 : 0;
}

RecurrentStackOutput add_recurrent_stack(Graph& graph, const RecurrentStackSpec& spec,
                                         const std::string& prefix, ValueId x, ValueId lengths,
                                         const RecurrentState* initial_state,
                                         std::uint64_t first_dropout_stream) {
  check_recurrent_stack_spec(spec);
  const int directions = recurrent_directions(spec);
  const bool lstm = spec.cell == RnnCell::lstm;
  const std::size_t states = static_cast<std::size_t>(spec.layers * directions);
  const Shape& x_shape = graph.value(x).shape;
  SEQTRAIN_CHECK(x_shape.size() == 3 && x_shape[2] == spec.input_size,
                 "recurrent stack '{}': input '{}' is {}, expected [T, B, {}]", prefix,
                 graph.value(x).name, shape_string(x_shape), spec.input_size);
  SEQTRAIN_CHECK(initial_state == nullptr || (initial_state->h.size() == states &&
                                              initial_state->c.size() == (lstm ? states : 0)),
                 "recurrent stack '{}': initial state has {} h and {} c values for {} layers "
                 "and {} directions",
                 prefix, initial_state->h.size(), initial_state->c.size(), spec.layers, directions);

  const std::int64_t gates =
      static_cast<std::int64_t>(rnn_gate_count(spec.cell)) * spec.hidden_size;
  RecurrentStackOutput result;
  ValueId layer_input = x;
  for (int layer = 0; layer < spec.layers; ++layer) {
    std::vector<ValueId> direction_outputs;
    for (int direction = 0; direction < directions; ++direction) {
      const bool reverse = direction == 1;
      auto parameter = [&](const char* kind, const Shape& shape) {
        return graph.add_parameter(recurrent_parameter_name(prefix, kind, layer, reverse), shape);
      };
      const std::size_t index = static_cast<std::size_t>(layer * directions + direction);
      const ValueId h0 = initial_state != nullptr ? initial_state->h[index] : kNoValue;
      const ValueId c0 = initial_state != nullptr && lstm ? initial_state->c[index] : kNoValue;
      Attributes attributes;
      attributes.cell = spec.cell;
      attributes.reverse = reverse;
      std::vector<ValueId> outputs = graph.add_node(
          OpKind::rnn,
          {layer_input, parameter("weight_ih", {gates, layer_input_size(spec, layer)}),
           parameter("weight_hh", {gates, spec.hidden_size}), parameter("bias_ih", {gates}),
           parameter("bias_hh", {gates}), h0, c0, lengths},
          attributes, fmt::format("{}l{}{}", prefix, layer, direction_suffix(reverse)));
      direction_outputs.push_back(outputs[0]);
      result.final_state.h.push_back(outputs[1]);
      if (lstm) result.final_state.c.push_back(outputs[2]);
    }
    ValueId layer_output = directions == 2 ? graph.add(OpKind::concat_last, direction_outputs, {},
                                                       fmt::format("{}l{}_concat", prefix, layer))
                                           : direction_outputs.front();
    if (layer + 1 < spec.layers)
      layer_output = add_dropout(graph, layer_output, spec.dropout,
                                 first_dropout_stream + static_cast<std::uint64_t>(layer),
                                 fmt::format("{}dropout_l{}", prefix, layer), /*batch_axis=*/1);
    layer_input = layer_output;
  }
  result.output = layer_input;
  return result;
}

}  // namespace seqtrain
