// The affinity benchmark's workloads (src/bench/affinity_workloads.h): the
// analytical FLOP counts against a hand count of every matrix product of the
// layers at B 2, T 16, H 32 (and, for the Transformer's linear layers,
// against the matmul nodes of the executed graph), and the critical path
// that grows with T for the LSTM and stays constant for attention.
#include <gtest/gtest.h>

#include <cstdint>

#include "bench/affinity_workloads.h"
#include "seqtrain/error.h"

namespace seqtrain::testing {
namespace {

constexpr AffinityShape kShape{2, 16, 32};  // B, T, H

// 2 m n k for each matrix product of m x k by k x n.
constexpr double product(double m, double n, double k) {
  return 2 * m * n * k;
}

TEST(AffinityWorkloads, LstmFlopsMatchAHandCountOfItsProducts) {
  const double tokens = 2 * 16, steps = 16, batch = 2, hidden = 32, gates = 4 * 32;
  const double forward = product(tokens, gates, hidden)            // input projection
                         + steps * product(batch, gates, hidden);  // recurrent, per step
  const double backward = product(tokens, hidden, gates)           // dx
                          + product(gates, hidden, tokens)         // dW_ih
                          + steps * product(batch, hidden, gates)  // dh_{t-1}
                          + product(gates, hidden, tokens);        // dW_hh
  EXPECT_EQ(forward + backward, 1'572'864.0);
  EXPECT_EQ(affinity_step_flop(AffinityWorkload::lstm_layer, kShape), forward + backward);
}

TEST(AffinityWorkloads, AttentionFlopsMatchAHandCountOfItsProducts) {
  // One head of d 32: per sequence S = Q K^T (T x T x d) and O = P V.
  const double per_product = 2 * product(16, 16, 32);  // both sequences
  const double forward = 2 * per_product;              // S, O
  const double backward = 5 * per_product;             // S again, dV, dP, dQ, dK
  EXPECT_EQ(forward + backward, 229'376.0);
  EXPECT_EQ(affinity_step_flop(AffinityWorkload::attention_op, kShape), forward + backward);
}

// 2 m n k over the matmul nodes of a graph (batched ones times their batch).
double matmul_flops(const Graph& graph) {
  double total = 0;
  for (const Node& node : graph.nodes()) {
    if (node.op != OpKind::matmul) continue;
    const Shape& a = graph.value(node.inputs[0]).shape;
    const Shape& c = graph.value(node.outputs[0]).shape;
    const double k = static_cast<double>(node.attributes.transpose_a ? a[a.size() - 2] : a.back());
    double elements = 1;
    for (std::int64_t extent : c) elements *= static_cast<double>(extent);
    total += 2 * elements * k;
  }
  return total;
}

TEST(AffinityWorkloads, TransformerLayerFlopsMatchAHandCountAndTheGraphsProducts) {
  const double tokens = 32, hidden = 32;
  // Forward: fused QKV, output projection, feed-forward in and out; backward
  // forms the input and the weight gradient of each (twice the forward).
  const double linear_forward =
      product(tokens, 3 * hidden, hidden) + product(tokens, hidden, hidden) +
      product(tokens, 4 * hidden, hidden) + product(tokens, hidden, 4 * hidden);
  const double attention = affinity_step_flop(AffinityWorkload::attention_op, kShape);
  EXPECT_EQ(3 * linear_forward, 2'359'296.0);
  EXPECT_EQ(affinity_step_flop(AffinityWorkload::transformer_layer, kShape),
            3 * linear_forward + attention);

  Graph graph = build_affinity_graph(AffinityWorkload::transformer_layer, kShape);
  append_backward(graph);
  EXPECT_EQ(matmul_flops(graph), 3 * linear_forward);
  int attention_nodes = 0;
  for (const Node& node : graph.nodes())
    attention_nodes += node.op == OpKind::attention || node.op == OpKind::attention_backward;
  EXPECT_EQ(attention_nodes, 2);  // the attention op's forward and backward, counted above
}

std::int64_t critical_path(AffinityWorkload workload, std::int64_t length) {
  Graph graph = build_affinity_graph(workload, {2, length, 32});
  append_backward(graph);
  return critical_path_steps(graph);
}

TEST(AffinityWorkloads, TheLstmsCriticalPathGrowsByTwoStepsPerTimeStepAndAttentionsDoesNot) {
  // Forward and backward each walk the T steps in order.
  EXPECT_EQ(critical_path(AffinityWorkload::lstm_layer, 64) -
                critical_path(AffinityWorkload::lstm_layer, 16),
            2 * (64 - 16));
  EXPECT_GE(critical_path(AffinityWorkload::lstm_layer, 16), 2 * 16);
  for (AffinityWorkload workload :
       {AffinityWorkload::transformer_layer, AffinityWorkload::attention_op}) {
    EXPECT_EQ(critical_path(workload, 16), critical_path(workload, 1024));
    EXPECT_LT(critical_path(workload, 16), 100);
  }
}

TEST(AffinityWorkloads, AWidthThatIsNotAMultipleOf32IsRefused) {
  EXPECT_THROW(affinity_heads(48), ConfigError);
  EXPECT_THROW(affinity_heads(0), ConfigError);
  EXPECT_EQ(affinity_heads(32), 1);
  EXPECT_EQ(affinity_heads(96), 3);   // d 32
  EXPECT_EQ(affinity_heads(256), 4);  // d 64
}

}  // namespace
}  // namespace seqtrain::testing
