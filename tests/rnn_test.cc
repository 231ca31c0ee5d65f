// The recurrent layer (OpKind::rnn) on its own: gradients against central
// finite differences on the serial backend, packed-sequence semantics against
// running each sequence alone, and the cpu backend against serial.
#include <string>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "test_support.h"

namespace seqtrain::testing {
namespace {

struct RnnCaseOptions {
  RnnCell cell = RnnCell::lstm;
  bool reverse = false;
  std::int64_t steps = 5, batch = 3, input = 4, hidden = 5;
  std::vector<std::int32_t> lengths = {5, 2, 4};
  bool initial_state = true;    // h0 (and c0) are parameters; otherwise missing: zero
  bool loss_on_outputs = true;  // y feeds the loss
  bool loss_on_state = true;    // h_n (and c_n) feed the loss
  std::uint64_t seed = 11;
};

ValueId flattened(Graph& graph, ValueId value) {
  Attributes attributes;
  attributes.shape = {1, shape_numel(graph.value(value).shape)};
  return graph.add(OpKind::reshape, {value}, attributes);
}

// One rnn node whose checked output is [y | h_n | c_n] flattened (the parts the
// options ask for), so dy, dh_n and dc_n all carry gradient into the layer.
GraphCase rnn_case(const RnnCaseOptions& o) {
  const std::int64_t gates = rnn_gate_count(o.cell) * o.hidden;
  const bool lstm = o.cell == RnnCell::lstm;
  GraphCase c;
  c.parameters = {{"x", random_tensor({o.steps, o.batch, o.input}, o.seed)},
                  {"weight_ih", random_tensor({gates, o.input}, o.seed + 1, 0.6f)},
                  {"weight_hh", random_tensor({gates, o.hidden}, o.seed + 2, 0.6f)},
                  {"bias_ih", random_tensor({gates}, o.seed + 3, 0.5f)},
                  {"bias_hh", random_tensor({gates}, o.seed + 4, 0.5f)}};
  if (o.initial_state) {
    c.parameters["h0"] = random_tensor({o.batch, o.hidden}, o.seed + 5);
    if (lstm) c.parameters["c0"] = random_tensor({o.batch, o.hidden}, o.seed + 6);
  }
  c.inputs = {{"lengths", Tensor::from_vector(o.lengths, {o.batch})}};
  c.build = [o, lstm](Graph& g) {
    Attributes attributes;
    attributes.cell = o.cell;
    attributes.reverse = o.reverse;
    const ValueId h0 = o.initial_state ? g.find_value("h0") : kNoValue;
    const ValueId c0 = o.initial_state && lstm ? g.find_value("c0") : kNoValue;
    auto outputs = g.add_node(
        OpKind::rnn,
        {g.find_value("x"), g.find_value("weight_ih"), g.find_value("weight_hh"),
         g.find_value("bias_ih"), g.find_value("bias_hh"), h0, c0, g.find_value("lengths")},
        attributes, "layer");
    std::vector<ValueId> parts;
    if (o.loss_on_outputs) parts.push_back(flattened(g, outputs[0]));
    if (o.loss_on_state) {
      parts.push_back(flattened(g, outputs[1]));
      if (lstm) parts.push_back(flattened(g, outputs[2]));
    }
    ValueId result = parts.front();
    for (std::size_t i = 1; i < parts.size(); ++i)
      result = g.add(OpKind::concat_last, {result, parts[i]});
    return result;
  };
  return c;
}

std::string case_name(RnnCell cell, bool reverse) {
  return std::string(rnn_cell_name(cell)) + (reverse ? "_reverse" : "_forward");
}

struct CellDirection {
  RnnCell cell;
  bool reverse;
};

std::vector<CellDirection> all_cells_and_directions() {
  std::vector<CellDirection> all;
  for (RnnCell cell : {RnnCell::lstm, RnnCell::gru, RnnCell::rnn_tanh})
    for (bool reverse : {false, true}) all.push_back({cell, reverse});
  return all;
}

class RnnLayer : public ::testing::TestWithParam<CellDirection> {
 protected:
  RnnCaseOptions options() const {
    RnnCaseOptions o;
    o.cell = GetParam().cell;
    o.reverse = GetParam().reverse;
    return o;
  }
};

// Uneven lengths, odd sizes, gradients of x, weights, biases, h0 and c0, with
// dy, dh_n and dc_n all flowing in.
TEST_P(RnnLayer, BackwardMatchesFiniteDifferences) {
  expect_gradients_match_finite_differences(rnn_case(options()));
}

// dy missing: only the final state reaches the loss.
TEST_P(RnnLayer, BackwardFromFinalStateOnlyMatchesFiniteDifferences) {
  RnnCaseOptions o = options();
  o.loss_on_outputs = false;
  expect_gradients_match_finite_differences(rnn_case(o));
}

// dh_n and dc_n missing, h0 and c0 missing (a zero initial state).
TEST_P(RnnLayer, BackwardFromOutputsWithZeroStateMatchesFiniteDifferences) {
  RnnCaseOptions o = options();
  o.loss_on_state = false;
  o.initial_state = false;
  expect_gradients_match_finite_differences(rnn_case(o));
}

// A missing initial state is the same as an explicit zero one.
TEST_P(RnnLayer, MissingInitialStateIsZero) {
  RnnCaseOptions o = options();
  GraphCase explicit_zero = rnn_case(o);
  explicit_zero.parameters["h0"] = Tensor::zeros({o.batch, o.hidden});
  if (o.cell == RnnCell::lstm) explicit_zero.parameters["c0"] = Tensor::zeros({o.batch, o.hidden});
  o.initial_state = false;
  auto serial = make_serial_backend();
  GraphResult missing = run_graph_case(rnn_case(o), *serial);
  GraphResult zero = run_graph_case(explicit_zero, *serial);
  EXPECT_TRUE(tensors_close(missing.output, zero.output, 0.0, 0.0));
  for (const auto& [name, grad] : missing.grads)
    EXPECT_TRUE(tensors_close(grad, zero.grads.at(name), 0.0, 0.0)) << name;
}

// Packed sequences: each row of an uneven batch computes what the same
// sequence computes alone in a batch of one with T = its length; y is zero past
// the length and h_n, c_n are the state after the last valid step.
TEST_P(RnnLayer, PackedRowsMatchEachSequenceRunAlone) {
  const RnnCaseOptions o = options();
  auto serial = make_serial_backend();
  GraphResult packed = run_graph_case(rnn_case(o), *serial);
  GraphCase packed_case = rnn_case(o);
  const std::int64_t H = o.hidden;
  const std::int64_t state_parts = o.cell == RnnCell::lstm ? 2 : 1;
  const std::vector<float> all = packed.output.to_vector();
  for (std::int64_t b = 0; b < o.batch; ++b) {
    const std::int64_t length = o.lengths[b];
    RnnCaseOptions alone = o;
    alone.steps = length;
    alone.batch = 1;
    alone.lengths = {static_cast<std::int32_t>(length)};
    GraphCase single = rnn_case(alone);
    // The same data: rows b of x, h0, c0 over the first `length` steps.
    const std::vector<float> x = packed_case.parameters.at("x").to_vector();
    std::vector<float> x_row;
    for (std::int64_t t = 0; t < length; ++t)
      for (std::int64_t k = 0; k < o.input; ++k)
        x_row.push_back(x[(t * o.batch + b) * o.input + k]);
    single.parameters["x"] = Tensor::from_vector(x_row, {length, 1, o.input});
    for (const char* name : {"weight_ih", "weight_hh", "bias_ih", "bias_hh"})
      single.parameters[name] = packed_case.parameters.at(name);
    for (const char* name : {"h0", "c0"}) {
      if (!packed_case.parameters.contains(name)) continue;
      const std::vector<float> state = packed_case.parameters.at(name).to_vector();
      single.parameters[name] = Tensor::from_vector(
          std::vector<float>(state.begin() + b * H, state.begin() + (b + 1) * H), {1, H});
    }
    const std::vector<float> expected = run_graph_case(single, *serial).output.to_vector();
    // packed output: y [T, B, H], h_n [B, H], c_n [B, H]; single: y [len, 1, H], h_n, c_n.
    for (std::int64_t t = 0; t < o.steps; ++t)
      for (std::int64_t j = 0; j < H; ++j) {
        const float actual = all[(t * o.batch + b) * H + j];
        const float wanted = t < length ? expected[t * H + j] : 0.0f;
        EXPECT_NEAR(actual, wanted, 1e-6) << "y at t " << t << ", row " << b << ", unit " << j;
      }
    for (std::int64_t part = 0; part < state_parts; ++part)
      for (std::int64_t j = 0; j < H; ++j) {
        const float actual = all[o.steps * o.batch * H + part * o.batch * H + b * H + j];
        const float wanted = expected[length * H + part * H + j];
        EXPECT_NEAR(actual, wanted, 1e-6) << (part == 0 ? "h_n" : "c_n") << " row " << b;
      }
  }
}

// The cpu backend (all-steps GEMMs, fused per-step passes) against serial on
// the same small cases: full loss, final state only, outputs with zero state.
// Scratch guards on: the backward's gathered operands stay inside their scratch.
TEST_P(RnnLayer, CpuMatchesSerial) {
  CpuBackend cpu(2, cpu::ScratchGuards::on);
  RnnCaseOptions o = options();
  expect_backends_agree(rnn_case(o), cpu);
  o.loss_on_outputs = false;
  expect_backends_agree(rnn_case(o), cpu);
  o.loss_on_outputs = true;
  o.loss_on_state = false;
  o.initial_state = false;
  expect_backends_agree(rnn_case(o), cpu);
  cpu.check_scratch_guards();
}

// Hidden size 70 spans a full and a partial 64-unit tile; lengths include 1 and T.
// Two cpu runs are bit-identical (fixed thread count).
TEST_P(RnnLayer, CpuMatchesSerialOnMediumShapeAndRepeatsExactly) {
  RnnCaseOptions o = options();
  o.steps = 13;
  o.batch = 9;
  o.input = 37;
  o.hidden = 70;
  o.lengths = {13, 1, 7, 13, 4, 12, 9, 2, 10};
  auto cpu = make_cpu_backend(2);
  expect_backends_agree(rnn_case(o), *cpu);
  GraphResult first = run_graph_case(rnn_case(o), *cpu);
  GraphResult second = run_graph_case(rnn_case(o), *cpu);
  EXPECT_TRUE(tensors_close(first.output, second.output, 0.0, 0.0));
  for (const auto& [name, grad] : first.grads)
    EXPECT_TRUE(tensors_close(second.grads.at(name), grad, 0.0, 0.0)) << name;
}

INSTANTIATE_TEST_SUITE_P(Cells, RnnLayer, ::testing::ValuesIn(all_cells_and_directions()),
                         [](const auto& info) {
                           return case_name(info.param.cell, info.param.reverse);
                         });

}  // namespace
}  // namespace seqtrain::testing
