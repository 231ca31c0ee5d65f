#include <gtest/gtest.h>

#include "seqtrain/executor.h"
#include "test_support.h"

namespace seqtrain::testing {
namespace {

// A chain of tanh layers: forward activations die as soon as the next layer's
// backward has used them, so the plan must be much smaller than one buffer each.
TEST(MemoryPlan, ReusesBuffersAndNeverOverlapsLiveValues) {
  Graph graph;
  ValueId x = graph.add_parameter("x", {64, 64});
  ValueId h = x;
  for (int layer = 0; layer < 8; ++layer) {
    ValueId w = graph.add_parameter("w" + std::to_string(layer), {64, 64});
    h = graph.add(OpKind::matmul, {h, w});
    Attributes tanh;
    tanh.activation = Activation::tanh;
    h = graph.add(OpKind::activation, {h}, tanh);
  }
  ValueId target = graph.add_input("target", {64, 64});
  graph.set_loss(graph.add(OpKind::mse, {h, target}));
  append_backward(graph);
  MemoryPlan plan = plan_memory(graph);
  EXPECT_LT(plan.arena_bytes, plan.unshared_bytes / 2);

  // No two values alive at the same node overlap in bytes.
  const auto& values = graph.values();
  std::vector<int> last(values.size(), -1);
  for (int n = 0; n < static_cast<int>(graph.nodes().size()); ++n)
    for (ValueId input : graph.nodes()[n].inputs)
      if (input != kNoValue) last[input] = n;
  for (ValueId output : graph.outputs()) last[output] = static_cast<int>(graph.nodes().size());
  for (std::size_t a = 0; a < values.size(); ++a)
    for (std::size_t b = a + 1; b < values.size(); ++b) {
      if (plan.offsets[a] < 0 || plan.offsets[b] < 0) continue;
      int a_first = values[a].producer, a_last = std::max(last[a], a_first);
      int b_first = values[b].producer, b_last = std::max(last[b], b_first);
      bool live_together = a_first <= b_last && b_first <= a_last;
      std::int64_t a_end = plan.offsets[a] + shape_numel(values[a].shape) * 4;
      std::int64_t b_end = plan.offsets[b] + shape_numel(values[b].shape) * 4;
      bool share_bytes = plan.offsets[a] < b_end && plan.offsets[b] < a_end;
      EXPECT_FALSE(live_together && share_bytes) << values[a].name << " and " << values[b].name;
    }
}

// The executor allocates the plan's bytes, not one 4-byte word per planned byte.
TEST(MemoryPlan, ExecutorArenaHoldsThePlannedBytes) {
  auto backend = make_serial_backend();
  ParameterStore parameters(*backend);
  parameters.add("w", {5, 7}, true);
  Graph graph;
  ValueId x = graph.add_input("x", {3, 5});
  ValueId w = graph.add_parameter("w", {5, 7});
  Attributes tanh;
  tanh.activation = Activation::tanh;
  ValueId h = graph.add(OpKind::activation, {graph.add(OpKind::matmul, {x, w})}, tanh);
  graph.set_loss(graph.add(OpKind::mse, {h, graph.add_input("target", {3, 7})}));
  Executor executor(std::move(graph), *backend, parameters, true);
  const std::int64_t planned = executor.memory_plan().arena_bytes;
  ASSERT_GT(planned, 0);
  EXPECT_EQ(executor.arena_allocated_bytes(), (planned + 3) / 4 * 4);
}

TEST(Autodiff, ParameterGradientsAccumulateAcrossRuns) {
  GraphCase c;
  c.parameters = {{"w", random_tensor({3, 4}, 1)}};
  c.inputs = {{"x", random_tensor({2, 3}, 2)}};
  c.build = [](Graph& g) { return g.add(OpKind::matmul, {g.find_value("x"), g.find_value("w")}); };
  auto backend = make_serial_backend();
  ParameterStore parameters(*backend);
  parameters.set_value(parameters.add("w", {3, 4}, true), c.parameters["w"]);
  Graph graph;
  graph.add_parameter("w", {3, 4});
  graph.add_input("x", {2, 3});
  ValueId y = c.build(graph);
  ValueId target = graph.add_input("target", {2, 4});
  graph.set_loss(graph.add(OpKind::mse, {y, target}));
  Executor executor(std::move(graph), *backend, parameters, true);
  executor.set_input("x", c.inputs["x"]);
  executor.set_input("target", Tensor::zeros({2, 4}));
  executor.forward_backward({});
  Tensor once = parameters.grad_to_host(parameters.get("w"));
  executor.forward_backward({});
  Tensor twice = parameters.grad_to_host(parameters.get("w"));
  for (std::int64_t i = 0; i < once.numel(); ++i)
    EXPECT_FLOAT_EQ(twice.data<float>()[i], 2.0f * once.data<float>()[i]);
}

}  // namespace
}  // namespace seqtrain::testing
