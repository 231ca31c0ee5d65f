// Losses: softmax cross-entropy with an ignore index, mean squared error.
#include "graph/op_definition.h"

namespace seqtrain {
namespace {

// Inputs logits [N, C], targets [N] int32; outputs loss [1], log_sum_exp [N].
std::vector<ValueSpec> infer_cross_entropy(const Graph& graph, const Node& node) {
  expect_rank(graph, node, 0, 2);
  const Shape& logits = input_shape(graph, node, 0);
  expect_shape(graph, node, 1, {logits[0]});
  expect_dtype(graph, node, 1, DType::i32);
  return {{{1}}, {{logits[0]}}};
}

void run_cross_entropy(Backend& backend, const Node& node, const NodeTensors& t,
                       const RunContext&) {
  backend.cross_entropy_forward(*t.inputs[0], *t.inputs[1], node.attributes.ignore_index,
                                *t.outputs[0], *t.outputs[1]);
}

std::vector<ValueId> gradient_cross_entropy(Graph& graph, const GradientRequest& request) {
  const Node& node = request.node;
  return {graph.add(OpKind::cross_entropy_backward,
                    {node.inputs[0], node.inputs[1], node.outputs[1], request.output_grads[0]},
                    node.attributes, node.name + ".grad"),
          kNoValue};
}

std::vector<ValueSpec> infer_like_first(const Graph& graph, const Node& node) {
  return {{input_shape(graph, node, 0)}};
}

void run_cross_entropy_backward(Backend& backend, const Node& node, const NodeTensors& t,
                                const RunContext&) {
  backend.cross_entropy_backward(*t.inputs[0], *t.inputs[1], *t.inputs[2], *t.inputs[3],
                                 node.attributes.ignore_index, *t.outputs[0]);
}

std::vector<ValueSpec> infer_mse(const Graph& graph, const Node& node) {
  expect_shape(graph, node, 1, input_shape(graph, node, 0));
  return {{{1}}};
}

void run_mse(Backend& backend, const Node&, const NodeTensors& t, const RunContext&) {
  backend.mse_forward(*t.inputs[0], *t.inputs[1], *t.outputs[0]);
}

std::vector<ValueId> gradient_mse(Graph& graph, const GradientRequest& request) {
  const Node& node = request.node;
  return {graph.add(OpKind::mse_backward,
                    {node.inputs[0], node.inputs[1], request.output_grads[0]}, {},
                    node.name + ".grad"),
          kNoValue};
}

void run_mse_backward(Backend& backend, const Node&, const NodeTensors& t, const RunContext&) {
  backend.mse_backward(*t.inputs[0], *t.inputs[1], *t.inputs[2], *t.outputs[0]);
}

}  // namespace

const OpDefinition kCrossEntropyOp{infer_cross_entropy, run_cross_entropy,
                                   gradient_cross_entropy};
const OpDefinition kCrossEntropyBackwardOp{infer_like_first,
                                           run_cross_entropy_backward, nullptr};
const OpDefinition kMseOp{infer_mse, run_mse, gradient_mse};
const OpDefinition kMseBackwardOp{infer_like_first, run_mse_backward, nullptr};

}  // namespace seqtrain
