// Shared test machinery: random tensors, tolerant comparisons that report the
// worst element, and running a small graph on a backend to get its outputs and
// parameter gradients (for finite-difference checks and backend comparisons).
#pragma once

#include <functional>
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "seqtrain/backend.h"
#include "seqtrain/executor.h"
#include "seqtrain/rng.h"

namespace seqtrain::testing {

// The message of the E that action throws (a test failure when it throws none).
template <class E, class F>
std::string error_message(F&& action) {
  try {
    action();
  } catch (const E& error) {
    return error.what();
  }
  ADD_FAILURE() << "no exception";
  return {};
}

Tensor random_tensor(const Shape& shape, std::uint64_t seed, float scale = 1.0f);
Tensor random_ids(const Shape& shape, std::int32_t vocabulary, std::uint64_t seed);

// |actual - expected| <= atol + rtol * |expected| everywhere; the failure names
// the worst element.
::testing::AssertionResult tensors_close(const Tensor& actual, const Tensor& expected, double atol,
                                         double rtol);

// A small graph under test: build() adds nodes to the graph, reading parameters
// and inputs by name, and returns the value to check. The harness turns that
// value into a scalar loss (mean squared distance to a fixed random target) so
// every element's gradient matters.
struct GraphCase {
  std::function<ValueId(Graph&)> build;
  std::map<std::string, Tensor> parameters;  // name -> host value
  std::map<std::string, Tensor> inputs;      // name -> host value (dtype as given)
  bool training = true;
  std::uint64_t seed = 7;
};

struct GraphResult {
  Tensor output;
  float loss;
  std::map<std::string, Tensor> grads;  // by parameter name
};

GraphResult run_graph_case(const GraphCase& graph_case, Backend& backend);

// Central differences of the loss against every parameter element, compared
// with the gradients autodiff computes on the serial backend.
void expect_gradients_match_finite_differences(const GraphCase& graph_case, double atol = 2e-3,
                                               double rtol = 2e-2, float step = 1e-2f);

// The cpu backend matches serial on outputs and gradients.
void expect_backends_agree(const GraphCase& graph_case, Backend& backend, double atol = 1e-4,
                           double rtol = 1e-4);

}  // namespace seqtrain::testing
