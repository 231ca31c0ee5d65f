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

// The part [offset, offset + count) of a contiguous tensor, as a flat view.
Tensor flat_part(const Tensor& tensor, std::int64_t offset, std::int64_t count) {
  auto* bytes = static_cast<std::byte*>(const_cast<void*>(tensor.raw()));
  return Tensor::view(bytes + offset * static_cast<std::int64_t>(dtype_size(tensor.dtype())),
                      {count}, tensor.dtype(), tensor.device());
}

// A data-parallel rank's batch is rows [r, r + B) of a global batch of G rows
// (RunContext): with the batch axis a, x is `outer` (the extent before a)
// runs of B * inner contiguous elements, and run o sits at global element
// (o * G + r) * inner. Each run draws from there, so the rank's masks are its
// rows' masks in the global batch. A whole batch is one run from 0.
void run_dropout(Backend& backend, const Node& node, const NodeTensors& t,
                 const RunContext& context) {
  float probability = context.training ? node.attributes.probability : 0.0f;
  const Tensor& x = *t.inputs[0];
  const bool sliced = context.rows > 0 && context.rows != context.global_rows;
  if (!sliced || probability == 0.0f) {
    backend.dropout_forward(x, probability, context.seed, node.attributes.stream, context.step, 0,
                            *t.outputs[0], *t.outputs[1]);
    return;
  }
  const int axis = node.attributes.batch_axis;
  SEQTRAIN_CHECK(axis >= 0 && axis < x.rank() && x.dim(axis) % context.rows == 0,
                 "dropout '{}': batch axis {} of {} does not hold the batch's {} rows", node.name,
                 axis, shape_string(x.shape()), context.rows);
  std::int64_t outer = 1;
  for (int d = 0; d < axis; ++d) outer *= x.dim(d);
  const std::int64_t run = x.numel() / outer, inner = run / context.rows;
  for (std::int64_t o = 0; o < outer; ++o) {
    Tensor y = flat_part(*t.outputs[0], o * run, run);
    Tensor mask = flat_part(*t.outputs[1], o * run, run);
    const auto first = static_cast<std::uint64_t>((o * context.global_rows + context.first_row) *
                                                  inner);
    backend.dropout_forward(flat_part(x, o * run, run), probability, context.seed,
                            node.attributes.stream, context.step, first, y, mask);
  }
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
