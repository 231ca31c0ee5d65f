#include "test_support.h"

#include <cmath>

#include "seqtrain/parameters.h"

namespace seqtrain::testing {

Tensor random_tensor(const Shape& shape, std::uint64_t seed, float scale) {
  Rng rng(seed, 0);
  return uniform_tensor(shape, scale, rng);
}

Tensor random_ids(const Shape& shape, std::int32_t vocabulary, std::uint64_t seed) {
  Rng rng(seed, 1);
  Tensor ids = Tensor::empty(shape, DType::i32);
  for (auto& id : ids.span<std::int32_t>()) id = static_cast<std::int32_t>(rng.next_below(vocabulary));
  return ids;
}

::testing::AssertionResult tensors_close(const Tensor& actual, const Tensor& expected, double atol,
                                         double rtol) {
  if (actual.shape() != expected.shape())
    return ::testing::AssertionFailure()
           << "shape " << shape_string(actual.shape()) << " vs " << shape_string(expected.shape());
  std::vector<float> a = actual.to_vector(), e = expected.to_vector();
  double worst_excess = 0.0;
  std::size_t worst = 0;
  std::size_t failures = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    double allowed = atol + rtol * std::abs(e[i]);
    double error = std::abs(static_cast<double>(a[i]) - e[i]);
    if (!(error <= allowed)) {
      ++failures;
      if (!(error - allowed <= worst_excess)) {
        worst_excess = error - allowed;
        worst = i;
      }
    }
  }
  if (failures == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << failures << " of " << a.size() << " elements differ; worst at " << worst << ": "
         << a[worst] << " vs expected " << e[worst] << " (atol " << atol << ", rtol " << rtol
         << ")";
}

GraphResult run_graph_case(const GraphCase& graph_case, Backend& backend) {
  ParameterStore parameters(backend);
  Graph graph;
  for (const auto& [name, value] : graph_case.parameters) {
    parameters.set_value(parameters.add(name, value.shape(), true), value);
    graph.add_parameter(name, value.shape());
  }
  for (const auto& [name, value] : graph_case.inputs) graph.add_input(name, value.shape(), value.dtype());
  ValueId output = graph_case.build(graph);
  graph.mark_output(output);
  const Shape output_shape = graph.value(output).shape;
  ValueId target = graph.add_input("test.target", output_shape);
  graph.set_loss(graph.add(OpKind::mse, {output, target}));

  Executor executor(std::move(graph), backend, parameters, graph_case.training);
  for (const auto& [name, value] : graph_case.inputs) executor.set_input(name, value);
  executor.set_input("test.target", random_tensor(output_shape, 1234, 1.0f));
  RunContext context{graph_case.seed, 3, true};
  if (graph_case.training)
    executor.forward_backward(context);
  else
    executor.forward(context);

  GraphResult result;
  result.output = executor.value_to_host(output);
  result.loss = executor.loss_value();
  for (const auto& parameter : parameters.all())
    result.grads[parameter->name] = parameters.grad_to_host(*parameter);
  return result;
}

void expect_gradients_match_finite_differences(const GraphCase& graph_case, double atol,
                                               double rtol, float step) {
  auto serial = make_serial_backend();
  GraphResult analytic = run_graph_case(graph_case, *serial);
  // Same seed and step: dropout draws the same mask in every probe.
  GraphCase probe = graph_case;
  for (const auto& [name, value] : graph_case.parameters) {
    Tensor numeric = Tensor::zeros(value.shape());
    for (std::int64_t i = 0; i < value.numel(); ++i) {
      Tensor plus = value.clone(), minus = value.clone();
      plus.data<float>()[i] += step;
      minus.data<float>()[i] -= step;
      probe.parameters[name] = plus;
      double loss_plus = run_graph_case(probe, *serial).loss;
      probe.parameters[name] = minus;
      double loss_minus = run_graph_case(probe, *serial).loss;
      numeric.data<float>()[i] = static_cast<float>((loss_plus - loss_minus) / (2.0 * step));
    }
    probe.parameters[name] = value;
    EXPECT_TRUE(tensors_close(analytic.grads.at(name), numeric, atol, rtol))
        << "gradient of parameter '" << name << "'";
  }
}

void expect_backends_agree(const GraphCase& graph_case, Backend& backend, double atol,
                           double rtol) {
  auto serial = make_serial_backend();
  GraphResult expected = run_graph_case(graph_case, *serial);
  GraphResult actual = run_graph_case(graph_case, backend);
  EXPECT_TRUE(tensors_close(actual.output, expected.output, atol, rtol)) << "forward output";
  for (const auto& [name, grad] : expected.grads)
    EXPECT_TRUE(tensors_close(actual.grads.at(name), grad, atol, rtol))
        << "gradient of parameter '" << name << "'";
}

}  // namespace seqtrain::testing
