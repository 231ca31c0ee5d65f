// models/recurrent_stack.h: PyTorch's parameter names and initialisation,
// gradients of a dropout-carrying bidirectional stack against finite
// differences, cpu against serial, distinct dropout streams, and state carried
// across truncated-BPTT windows. (Values against PyTorch itself:
// rnn_reference_test.cc.)
#include "models/recurrent_stack.h"

#include <cmath>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "test_support.h"

namespace seqtrain::testing {
namespace {

ValueId flattened(Graph& graph, ValueId value) {
  Attributes attributes;
  attributes.shape = {1, shape_numel(graph.value(value).shape)};
  return graph.add(OpKind::reshape, {value}, attributes);
}

std::string state_suffix(int index, int directions) {
  return "_l" + std::to_string(index / directions) + (index % directions == 1 ? "_reverse" : "");
}

// A stack on x [T, B, I] with uneven lengths and every initial state a
// parameter; the checked value is [output | h_n... | c_n...] flattened.
GraphCase stack_case(const RecurrentStackSpec& spec, std::int64_t steps,
                     std::vector<std::int32_t> lengths) {
  const std::int64_t batch = static_cast<std::int64_t>(lengths.size());
  const int directions = recurrent_directions(spec);
  const bool lstm = spec.cell == RnnCell::lstm;
  GraphCase c;
  auto serial = make_serial_backend();
  ParameterStore store(*serial);
  Rng rng(21, 0);
  add_recurrent_stack_parameters(store, spec, "rnn.", rng);
  for (const auto& parameter : store.all())
    c.parameters[parameter->name] = store.value_to_host(*parameter);
  c.parameters["x"] = random_tensor({steps, batch, spec.input_size}, 22);
  for (int index = 0; index < spec.layers * directions; ++index) {
    c.parameters["h0" + state_suffix(index, directions)] =
        random_tensor({batch, spec.hidden_size}, 23 + index);
    if (lstm)
      c.parameters["c0" + state_suffix(index, directions)] =
          random_tensor({batch, spec.hidden_size}, 43 + index);
  }
  c.inputs = {{"lengths", Tensor::from_vector(lengths, {batch})}};
  c.build = [spec, directions, lstm](Graph& g) {
    RecurrentState initial;
    for (int index = 0; index < spec.layers * directions; ++index) {
      initial.h.push_back(g.find_value("h0" + state_suffix(index, directions)));
      if (lstm) initial.c.push_back(g.find_value("c0" + state_suffix(index, directions)));
    }
    RecurrentStackOutput stack = add_recurrent_stack(g, spec, "rnn.", g.find_value("x"),
                                                     g.find_value("lengths"), &initial, 100);
    ValueId all = flattened(g, stack.output);
    for (ValueId h : stack.final_state.h) all = g.add(OpKind::concat_last, {all, flattened(g, h)});
    for (ValueId cell : stack.final_state.c)
      all = g.add(OpKind::concat_last, {all, flattened(g, cell)});
    return all;
  };
  return c;
}

RecurrentStackSpec small_spec(RnnCell cell) {
  RecurrentStackSpec spec;
  spec.cell = cell;
  spec.input_size = 3;
  spec.hidden_size = 4;
  spec.layers = 2;
  spec.bidirectional = true;
  spec.dropout = 0.3f;
  return spec;
}

TEST(RecurrentStack, ParametersHavePyTorchNamesShapesOrderAndInitialisation) {
  RecurrentStackSpec spec;
  spec.cell = RnnCell::gru;
  spec.input_size = 3;
  spec.hidden_size = 4;
  spec.layers = 2;
  spec.bidirectional = true;
  auto serial = make_serial_backend();
  ParameterStore store(*serial);
  Rng rng(1, 0);
  add_recurrent_stack_parameters(store, spec, "encoder.", rng);
  struct Expected {
    std::string name;
    Shape shape;
    bool weight_decay;
  };
  std::vector<Expected> expected;
  for (int layer = 0; layer < 2; ++layer)
    for (const std::string suffix : {"", "_reverse"}) {
      const std::string tag = "_l" + std::to_string(layer) + suffix;
      expected.push_back({"encoder.weight_ih" + tag, {12, layer == 0 ? 3 : 8}, true});
      expected.push_back({"encoder.weight_hh" + tag, {12, 4}, true});
      expected.push_back({"encoder.bias_ih" + tag, {12}, false});
      expected.push_back({"encoder.bias_hh" + tag, {12}, false});
    }
  ASSERT_EQ(store.all().size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const Parameter& parameter = *store.all()[i];
    EXPECT_EQ(parameter.name, expected[i].name);
    EXPECT_EQ(parameter.value.shape(), expected[i].shape) << parameter.name;
    EXPECT_EQ(parameter.weight_decay, expected[i].weight_decay) << parameter.name;
    // uniform(-1/sqrt(H), 1/sqrt(H)) = (-0.5, 0.5) for H = 4, and spread over it.
    float low = 1.0f, high = -1.0f;
    for (float value : store.value_to_host(parameter).to_vector()) {
      low = std::min(low, value);
      high = std::max(high, value);
    }
    EXPECT_GE(low, -0.5f) << parameter.name;
    EXPECT_LE(high, 0.5f) << parameter.name;
    EXPECT_LT(low, -0.2f) << parameter.name;
    EXPECT_GT(high, 0.2f) << parameter.name;
  }
}

TEST(RecurrentStack, InvalidSpecIsAConfigErrorNamingTheField) {
  RecurrentStackSpec spec = small_spec(RnnCell::lstm);
  spec.hidden_size = 0;
  EXPECT_THROW(check_recurrent_stack_spec(spec), ConfigError);
  spec = small_spec(RnnCell::lstm);
  spec.dropout = 1.0f;
  try {
    check_recurrent_stack_spec(spec);
    FAIL() << "dropout 1 accepted";
  } catch (const ConfigError& error) {
    EXPECT_NE(std::string(error.what()).find("dropout"), std::string::npos) << error.what();
  }
}

// model.impl is the backend's choice, not the graph's: the serial and cpu
// backends run the fused layers (and say so), and a graph's recurrent nodes
// carry no implementation; their saved state is always laid out for the fused
// layers.
TEST(RecurrentStack, TheImplementationIsTheBackendsChoice) {
  RecurrentStackSpec spec = small_spec(RnnCell::lstm);
  spec.layers = 2;
  GraphCase c = stack_case(spec, 4, {4, 2, 3});
  Graph graph;
  for (const auto& [name, value] : c.parameters) graph.add_parameter(name, value.shape());
  graph.add_input("lengths", {3}, DType::i32);
  graph.mark_output(c.build(graph));
  for (const Node& node : graph.nodes()) {
    if (node.op != OpKind::rnn) continue;
    EXPECT_EQ(shape_numel(graph.value(node.outputs[3]).shape),
              4 * 3 * rnn_workspace_width(RnnCell::lstm) * spec.hidden_size)
        << "workspace";
  }
  EXPECT_EQ(make_serial_backend()->recurrent_impl(), RnnImpl::fused);
  EXPECT_EQ(make_cpu_backend(1)->recurrent_impl(), RnnImpl::fused);
}

// Two layers, both directions, dropout between the layers (the same mask in
// every probe), uneven lengths; gradients of weights, input and initial states.
TEST(RecurrentStack, BackwardWithDropoutMatchesFiniteDifferences) {
  for (RnnCell cell : {RnnCell::lstm, RnnCell::gru}) {
    SCOPED_TRACE(rnn_cell_name(cell));
    expect_gradients_match_finite_differences(stack_case(small_spec(cell), 4, {4, 2, 3}));
  }
}

TEST(RecurrentStack, CpuMatchesSerial) {
  auto cpu = make_cpu_backend(2);
  for (RnnCell cell : {RnnCell::lstm, RnnCell::gru, RnnCell::rnn_tanh}) {
    SCOPED_TRACE(rnn_cell_name(cell));
    RecurrentStackSpec spec = small_spec(cell);
    spec.input_size = 9;
    spec.hidden_size = 13;
    spec.layers = 3;
    expect_backends_agree(stack_case(spec, 6, {6, 1, 4, 5, 2}), *cpu);
  }
}

TEST(RecurrentStack, DropoutNodesHaveDistinctStreamsAndOnlyBetweenLayers) {
  RecurrentStackSpec spec = small_spec(RnnCell::lstm);
  spec.layers = 3;
  EXPECT_EQ(recurrent_dropout_streams(spec), 2);
  Graph graph;
  const ValueId x = graph.add_input("x", {5, 2, spec.input_size});
  const ValueId lengths = graph.add_input("lengths", {2}, DType::i32);
  add_recurrent_stack(graph, spec, "rnn.", x, lengths, nullptr, 40);
  std::vector<std::uint64_t> streams;
  for (const Node& node : graph.nodes())
    if (node.op == OpKind::dropout) {
      streams.push_back(node.attributes.stream);
      EXPECT_FLOAT_EQ(node.attributes.probability, spec.dropout);
    }
  EXPECT_EQ(streams, (std::vector<std::uint64_t>{40, 41}));
  spec.dropout = 0.0f;
  EXPECT_EQ(recurrent_dropout_streams(spec), 0);
}

// Truncated BPTT: running 2T steps at once equals running T steps, then the
// next T from the final state carried into the state inputs.
TEST(RecurrentStack, FinalStateCarriedIntoStateInputsContinuesTheSequence) {
  for (RnnCell cell : {RnnCell::lstm, RnnCell::gru, RnnCell::rnn_tanh}) {
    SCOPED_TRACE(rnn_cell_name(cell));
    RecurrentStackSpec spec = small_spec(cell);
    spec.bidirectional = false;
    spec.dropout = 0.0f;
    const std::int64_t window = 3, batch = 2;
    auto cpu = make_cpu_backend(2);
    ParameterStore store(*cpu);
    Rng rng(8, 0);
    add_recurrent_stack_parameters(store, spec, "rnn.", rng);
    const Tensor x = random_tensor({2 * window, batch, spec.input_size}, 9);

    auto build = [&](std::int64_t steps, bool with_state, RecurrentStackOutput& stack) {
      Graph graph;
      const ValueId input = graph.add_input("x", {steps, batch, spec.input_size});
      const ValueId lengths = graph.add_input("lengths", {batch}, DType::i32);
      RecurrentState state;
      if (with_state) state = add_recurrent_state_inputs(graph, spec, "rnn.", batch);
      stack = add_recurrent_stack(graph, spec, "rnn.", input, lengths,
                                  with_state ? &state : nullptr, 0);
      graph.mark_output(stack.output);
      for (ValueId h : stack.final_state.h) graph.mark_output(h);
      for (ValueId c : stack.final_state.c) graph.mark_output(c);
      return Executor(std::move(graph), *cpu, store, /*training=*/false);
    };
    auto lengths_of = [&](std::int64_t steps) {
      return Tensor::from_vector(std::vector<std::int32_t>(batch, static_cast<std::int32_t>(steps)),
                                 {batch});
    };
    auto steps_of = [&](std::int64_t first) {
      const std::vector<float> all = x.to_vector();
      const std::int64_t row = batch * spec.input_size;
      return Tensor::from_vector(
          std::vector<float>(all.begin() + first * row, all.begin() + (first + window) * row),
          {window, batch, spec.input_size});
    };

    RecurrentStackOutput whole_stack, first_stack, second_stack;
    Executor whole = build(2 * window, false, whole_stack);
    whole.set_input("x", x);
    whole.set_input("lengths", lengths_of(2 * window));
    whole.forward(RunContext{1, 0, false});

    Executor first = build(window, false, first_stack);
    first.set_input("x", steps_of(0));
    first.set_input("lengths", lengths_of(window));
    first.forward(RunContext{1, 0, false});

    Executor second = build(window, true, second_stack);
    second.set_input("x", steps_of(window));
    second.set_input("lengths", lengths_of(window));
    for (int layer = 0; layer < spec.layers; ++layer) {
      const std::string suffix = "_l" + std::to_string(layer);
      second.set_input("rnn.h0" + suffix, first.value_to_host(first_stack.final_state.h[layer]));
      if (cell == RnnCell::lstm)
        second.set_input("rnn.c0" + suffix, first.value_to_host(first_stack.final_state.c[layer]));
    }
    second.forward(RunContext{1, 0, false});

    const std::vector<float> expected = whole.value_to_host(whole_stack.output).to_vector();
    const std::int64_t half = window * batch * spec.hidden_size;
    EXPECT_TRUE(tensors_close(
        second.value_to_host(second_stack.output),
        Tensor::from_vector(std::vector<float>(expected.begin() + half, expected.end()),
                            {window, batch, spec.hidden_size}),
        1e-6, 1e-5));
    for (int layer = 0; layer < spec.layers; ++layer)
      EXPECT_TRUE(tensors_close(second.value_to_host(second_stack.final_state.h[layer]),
                                whole.value_to_host(whole_stack.final_state.h[layer]), 1e-6, 1e-5))
          << "h_n of layer " << layer;
  }
}

}  // namespace
}  // namespace seqtrain::testing
