// Activations, softmax, layernorm, dropout.
#include "graph/op_definition.h"

namespace seqtrain {
namespace {

std::vector<ValueSpec> infer_like_input(const Graph& graph, const Node& node) {
  return {{input_shape(graph, node, 0)}};
}

void run_activation(Backend& backend, const Node& node, const NodeTensors& t, const RunContext&) {
  backend.activation_forward(node.attributes.activation, *t.inputs[0], *t.outputs[0]);
}

std::vector<ValueId> gradient_activation(Graph& graph, const GradientRequest& request) {
  const Node& node = request.node;
  return {graph.add(OpKind::activation_backward,
                    {node.inputs[0], node.outputs[0], request.output_grads[0]}, node.attributes,
                    node.name + ".grad")};
}

void run_activation_backward(Backend& backend, const Node& node, const NodeTensors& t,
                             const RunContext&) {
  backend.activation_backward(node.attributes.activation, *t.inputs[0], *t.inputs[1],
                              *t.inputs[2], *t.outputs[0]);
}

void run_softmax(Backend& backend, const Node&, const NodeTensors& t, const RunContext&) {
  backend.softmax_forward(*t.inputs[0], *t.outputs[0]);
}

std::vector<ValueId> gradient_softmax(Graph& graph, const GradientRequest& request) {
  const Node& node = request.node;
  return {graph.add(OpKind::softmax_backward, {node.outputs[0], request.output_grads[0]}, {},
                    node.name + ".grad")};
}

void run_softmax_backward(Backend& backend, const Node&, const NodeTensors& t, const RunContext&) {
  backend.softmax_backward(*t.inputs[0], *t.inputs[1], *t.outputs[0]);
}

// Inputs x [..., D], gamma [D], beta [D]; outputs y, mean [rows], rstd [rows].
std::vector<ValueSpec> infer_layernorm(const Graph& graph, const Node& node) {
  const Shape& x = input_shape(graph, node, 0);
  expect_shape(graph, node, 1, {x.back()});
  expect_shape(graph, node, 2, {x.back()});
  Shape rows = {shape_numel(x) / x.back()};
  return {{x}, {rows}, {rows}};
}

void run_layernorm(Backend& backend, const Node& node, const NodeTensors& t, const RunContext&) {
  backend.layernorm_forward(*t.inputs[0], *t.inputs[1], *t.inputs[2], node.attributes.epsilon,
                            *t.outputs[0], *t.outputs[1], *t.outputs[2]);
}

std::vector<ValueId> gradient_layernorm(Graph& graph, const GradientRequest& request) {
  const Node& node = request.node;
  auto grads = graph.add_node(OpKind::layernorm_backward,
                              {node.inputs[0], node.inputs[1], node.outputs[1], node.outputs[2],
                               request.output_grads[0]},
                              {}, node.name + ".grad");
  return grads;
}

// Inputs x, gamma, mean, rstd, dy; outputs dx, dgamma, dbeta.
std::vector<ValueSpec> infer_layernorm_backward(const Graph& graph, const Node& node) {
  const Shape& x = input_shape(graph, node, 0);
  return {{x}, {{x.back()}}, {{x.back()}}};
}

void run_layernorm_backward(Backend& backend, const Node&, const NodeTensors& t,
                            const RunContext&) {
  backend.layernorm_backward(*t.inputs[0], *t.inputs[1], *t.inputs[2], *t.inputs[3],
                             *t.inputs[4], *t.outputs[0], *t.outputs[1], *t.outputs[2]);
}

// Outputs y and the mask it was multiplied by (0 or 1 / (1 - p)).
std::vector<ValueSpec> infer_dropout(const Graph& graph, const Node& node) {
  const Shape& x = input_shape(graph, node, 0);
  SEQTRAIN_CHECK(node.attributes.probability >= 0.0f && node.attributes.probability < 1.0f,
                 "dropout '{}': probability {} outside [0, 1)", node.name,
                 node.attributes.probability);
  return {{x}, {x}};
}

void run_dropout(Backend& backend, const Node& node, const NodeTensors& t,
                 const RunContext& context) {
  float probability = context.training ? node.attributes.probability : 0.0f;
  backend.dropout_forward(*t.inputs[0], probability, context.seed, node.attributes.stream,
                          context.step, *t.outputs[0], *t.outputs[1]);
}

std::vector<ValueId> gradient_dropout(Graph& graph, const GradientRequest& request) {
  const Node& node = request.node;
  return {graph.add(OpKind::mul, {request.output_grads[0], node.outputs[1]}, {},
                    node.name + ".grad")};
}

}  // namespace

const OpDefinition kActivationOp{infer_like_input, run_activation,
                                 gradient_activation};
const OpDefinition kActivationBackwardOp{infer_like_input,
                                         run_activation_backward, nullptr};
const OpDefinition kSoftmaxOp{infer_like_input, run_softmax, gradient_softmax};
const OpDefinition kSoftmaxBackwardOp{infer_like_input, run_softmax_backward,
                                      nullptr};
const OpDefinition kLayernormOp{infer_layernorm, run_layernorm, gradient_layernorm};
const OpDefinition kLayernormBackwardOp{infer_layernorm_backward,
                                        run_layernorm_backward, nullptr};
const OpDefinition kDropoutOp{infer_dropout, run_dropout, gradient_dropout};

}  // namespace seqtrain
