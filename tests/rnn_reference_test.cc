// The recurrent stack against PyTorch: nn.LSTM, nn.GRU and nn.RNN (tanh), two
// layers, bidirectional, on a PackedSequence of uneven lengths with nonzero
// initial states. scripts/make_reference.py wrote the fixtures (float64
// reference stored as float32); here the same stack is built with
// models/recurrent_stack.h, loaded with PyTorch's weights, run on the serial
// and cpu backends, and every output and gradient is compared.
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "models/recurrent_stack.h"
#include "test_support.h"

namespace seqtrain::testing {
namespace {

// |actual - expected| <= 1e-5 + 1e-5 |expected| for fp32.
constexpr double kTolerance = 1e-5;

struct Fixture {
  SafetensorsContents contents;
  RecurrentStackSpec spec;
  std::int64_t steps = 0, batch = 0;

  const Tensor& tensor(const std::string& name) const {
    auto found = contents.tensors.find(name);
    if (found == contents.tensors.end())
      throw std::runtime_error("fixture has no tensor '" + name + "'");
    return found->second;
  }
  bool has(const std::string& name) const { return contents.tensors.contains(name); }
};

Fixture load_fixture(const std::string& cell_name) {
  Fixture fixture;
  fixture.contents = read_safetensors(std::string(SEQTRAIN_FIXTURES) + "/rnn_reference_" +
                                      cell_name + ".safetensors");
  const auto& metadata = fixture.contents.metadata;
  const std::string cell = metadata.at("cell");
  fixture.spec.cell = cell == "lstm"  ? RnnCell::lstm
                      : cell == "gru" ? RnnCell::gru
                                      : RnnCell::rnn_tanh;
  fixture.spec.input_size = std::stoi(metadata.at("input_size"));
  fixture.spec.hidden_size = std::stoi(metadata.at("hidden_size"));
  fixture.spec.layers = std::stoi(metadata.at("layers"));
  fixture.spec.bidirectional = metadata.at("bidirectional") == "true";
  fixture.steps = std::stoll(metadata.at("steps"));
  fixture.batch = std::stoll(metadata.at("batch"));
  return fixture;
}

// Rows [index * B, (index + 1) * B) of a [states, B, H] tensor, as [B, H].
Tensor state_slice(const Tensor& states, std::int64_t index) {
  const std::int64_t batch = states.dim(1), hidden = states.dim(2);
  const std::vector<float> all = states.to_vector();
  return Tensor::from_vector(std::vector<float>(all.begin() + index * batch * hidden,
                                                all.begin() + (index + 1) * batch * hidden),
                             {batch, hidden});
}

// [states, B, H] from per-state [B, H] tensors.
Tensor stack_states(const std::vector<Tensor>& parts) {
  std::vector<float> all;
  for (const Tensor& part : parts) {
    const std::vector<float> values = part.to_vector();
    all.insert(all.end(), values.begin(), values.end());
  }
  return Tensor::from_vector(
      all, {static_cast<std::int64_t>(parts.size()), parts.front().dim(0), parts.front().dim(1)});
}

std::string state_suffix(const RecurrentStackSpec& spec, std::int64_t index) {
  const int directions = recurrent_directions(spec);
  return "_l" + std::to_string(index / directions) + (index % directions == 1 ? "_reverse" : "");
}

ValueId flattened(Graph& graph, ValueId value) {
  Attributes attributes;
  attributes.shape = {1, shape_numel(graph.value(value).shape)};
  return graph.add(OpKind::reshape, {value}, attributes);
}

// The worst element of one comparison, for the summary line.
struct Worst {
  double error = 0.0;
  std::string where;
};

void compare(const std::string& name, const Tensor& actual, const Tensor& expected, Worst& worst) {
  EXPECT_TRUE(tensors_close(actual, expected, kTolerance, kTolerance)) << name;
  if (actual.shape() != expected.shape()) return;
  const std::vector<float> a = actual.to_vector(), e = expected.to_vector();
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double error = std::abs(static_cast<double>(a[i]) - e[i]);
    if (error > worst.error) worst = {error, name + "[" + std::to_string(i) + "]"};
  }
}

void expect_stack_matches_pytorch(const std::string& cell_name, Backend& backend) {
  SCOPED_TRACE(cell_name + " on " + backend.name());
  const Fixture fixture = load_fixture(cell_name);
  const RecurrentStackSpec& spec = fixture.spec;
  const bool lstm = spec.cell == RnnCell::lstm;
  const std::int64_t states = spec.layers * recurrent_directions(spec);

  // The stack's own parameters, then PyTorch's values by name: the names,
  // shapes and order must be PyTorch's.
  ParameterStore parameters(backend);
  Rng rng(5, 0);
  add_recurrent_stack_parameters(parameters, spec, "", rng);
  const auto order = nlohmann::json::parse(fixture.contents.metadata.at("parameter_order"));
  ASSERT_EQ(parameters.all().size(), order.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    const std::string name = order[i];
    ASSERT_EQ(parameters.all()[i]->name, name) << "parameter " << i;
    parameters.set_value(*parameters.all()[i], fixture.tensor(name));
  }
  // The input and initial states are parameters too, so their gradients come out.
  parameters.set_value(parameters.add("input", fixture.tensor("input").shape(), false),
                       fixture.tensor("input"));
  for (std::int64_t index = 0; index < states; ++index) {
    const std::string suffix = state_suffix(spec, index);
    parameters.set_value(parameters.add("h0" + suffix, {fixture.batch, spec.hidden_size}, false),
                         state_slice(fixture.tensor("h0"), index));
    if (lstm)
      parameters.set_value(parameters.add("c0" + suffix, {fixture.batch, spec.hidden_size}, false),
                           state_slice(fixture.tensor("c0"), index));
  }

  Graph graph;
  const ValueId x = graph.add_parameter("input", fixture.tensor("input").shape());
  const ValueId lengths = graph.add_input("lengths", {fixture.batch}, DType::i32);
  RecurrentState initial;
  for (std::int64_t index = 0; index < states; ++index) {
    const std::string suffix = state_suffix(spec, index);
    initial.h.push_back(graph.add_parameter("h0" + suffix, {fixture.batch, spec.hidden_size}));
    if (lstm)
      initial.c.push_back(graph.add_parameter("c0" + suffix, {fixture.batch, spec.hidden_size}));
  }
  const RecurrentStackOutput stack =
      add_recurrent_stack(graph, spec, "", x, lengths, &initial, /*first_dropout_stream=*/0);
  graph.mark_output(stack.output);
  for (ValueId h : stack.final_state.h) graph.mark_output(h);
  for (ValueId c : stack.final_state.c) graph.mark_output(c);

  // loss = sum(w_output * output) + sum(w_h * h_n) + sum(w_c * c_n), as one
  // [1, N] x [N, 1] product of everything flattened with the weights.
  ValueId all = flattened(graph, stack.output);
  std::vector<float> loss_weights = fixture.tensor("loss_weight.output").to_vector();
  auto append = [&](const std::vector<ValueId>& parts, const std::string& weight_name) {
    for (ValueId part : parts) all = graph.add(OpKind::concat_last, {all, flattened(graph, part)});
    const std::vector<float> weights = fixture.tensor(weight_name).to_vector();
    loss_weights.insert(loss_weights.end(), weights.begin(), weights.end());
  };
  append(stack.final_state.h, "loss_weight.h_n");
  if (lstm) append(stack.final_state.c, "loss_weight.c_n");
  const std::int64_t total = static_cast<std::int64_t>(loss_weights.size());
  const ValueId weights = graph.add_input("loss_weights", {total, 1});
  graph.set_loss(graph.add(OpKind::matmul, {all, weights}));

  Executor executor(std::move(graph), backend, parameters, /*training=*/true);
  executor.set_input("lengths", fixture.tensor("lengths"));
  executor.set_input("loss_weights", Tensor::from_vector(loss_weights, {total, 1}));
  executor.forward_backward(RunContext{1, 1, true});

  Worst worst;
  compare("output", executor.value_to_host(stack.output), fixture.tensor("output"), worst);
  std::vector<Tensor> h_n, c_n, dh0, dc0;
  for (std::int64_t index = 0; index < states; ++index) {
    h_n.push_back(executor.value_to_host(stack.final_state.h[index]));
    if (lstm) c_n.push_back(executor.value_to_host(stack.final_state.c[index]));
    const std::string suffix = state_suffix(spec, index);
    dh0.push_back(parameters.grad_to_host(parameters.get("h0" + suffix)));
    if (lstm) dc0.push_back(parameters.grad_to_host(parameters.get("c0" + suffix)));
  }
  compare("h_n", stack_states(h_n), fixture.tensor("h_n"), worst);
  compare("grad.h0", stack_states(dh0), fixture.tensor("grad.h0"), worst);
  if (lstm) {
    compare("c_n", stack_states(c_n), fixture.tensor("c_n"), worst);
    compare("grad.c0", stack_states(dc0), fixture.tensor("grad.c0"), worst);
  }
  compare("grad.input", parameters.grad_to_host(parameters.get("input")),
          fixture.tensor("grad.input"), worst);
  for (const auto& name : order)
    compare("grad." + name.get<std::string>(), parameters.grad_to_host(parameters.get(name)),
            fixture.tensor("grad." + name.get<std::string>()), worst);
  std::printf("[ reference] %s on %s: worst |error| %.3g at %s\n", cell_name.c_str(),
              backend.name().c_str(), worst.error, worst.where.c_str());
}

class RnnReference : public ::testing::TestWithParam<std::string> {};

TEST_P(RnnReference, SerialStackMatchesPyTorch) {
  auto serial = make_serial_backend();
  expect_stack_matches_pytorch(GetParam(), *serial);
}

TEST_P(RnnReference, CpuStackMatchesPyTorch) {
  auto cpu = make_cpu_backend(2);
  expect_stack_matches_pytorch(GetParam(), *cpu);
}

INSTANTIATE_TEST_SUITE_P(Cells, RnnReference, ::testing::Values("lstm", "gru", "rnn_tanh"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace seqtrain::testing
