// matmul, bias, element-wise arithmetic and gradient accumulation.
#include "graph/op_definition.h"

namespace seqtrain {
namespace {

// Rows and columns of op(x) for the last two axes.
std::pair<std::int64_t, std::int64_t> matrix_dims(const Shape& shape, bool transpose) {
  std::int64_t rows = shape[shape.size() - 2], cols = shape[shape.size() - 1];
  return transpose ? std::pair{cols, rows} : std::pair{rows, cols};
}

std::vector<ValueSpec> infer_matmul(const Graph& graph, const Node& node) {
  const Shape& a = input_shape(graph, node, 0);
  const Shape& b = input_shape(graph, node, 1);
  const auto& at = node.attributes;
  SEQTRAIN_CHECK((a.size() == 2 || a.size() == 3) && (b.size() == 2 || b.size() <= a.size()),
                 "matmul '{}': shapes {} and {} are not rank 2 or 3", node.name, shape_string(a),
                 shape_string(b));
  SEQTRAIN_CHECK(!(a.size() == 3 && b.size() == 2 && at.transpose_a),
                 "matmul '{}': a broadcast right operand needs an untransposed left", node.name);
  auto [m, k] = matrix_dims(a, at.transpose_a);
  auto [k2, n] = matrix_dims(b, at.transpose_b);
  SEQTRAIN_CHECK(k == k2, "matmul '{}': inner dimensions differ: {} x {} (transpose {} {})",
                 node.name, shape_string(a), shape_string(b), at.transpose_a, at.transpose_b);
  if (a.size() == 3 && b.size() == 3)
    SEQTRAIN_CHECK(a[0] == b[0], "matmul '{}': batch sizes differ: {} vs {}", node.name,
                   shape_string(a), shape_string(b));
  if (a.size() == 3) return {{{a[0], m, n}}};
  return {{{m, n}}};
}

void run_matmul(Backend& backend, const Node& node, const NodeTensors& t, const RunContext&) {
  backend.matmul(*t.inputs[0], *t.inputs[1], *t.outputs[0], node.attributes.transpose_a,
                 node.attributes.transpose_b, node.attributes.alpha, 0.0f);
}

ValueId matmul_node(Graph& graph, ValueId a, ValueId b, bool transpose_a, bool transpose_b,
                    float alpha, const std::string& name) {
  Attributes attributes;
  attributes.transpose_a = transpose_a;
  attributes.transpose_b = transpose_b;
  attributes.alpha = alpha;
  return graph.add(OpKind::matmul, {a, b}, attributes, name);
}

ValueId reshape_node(Graph& graph, ValueId x, Shape shape, const std::string& name) {
  Attributes attributes;
  attributes.shape = std::move(shape);
  return graph.add(OpKind::reshape, {x}, attributes, name);
}

// For C = alpha op(A) op(B): dA and dB are matmuls of dC with the other operand.
std::vector<ValueId> gradient_matmul(Graph& graph, const GradientRequest& request) {
  const Node& node = request.node;
  ValueId a = node.inputs[0], b = node.inputs[1], dc = request.output_grads[0];
  bool ta = node.attributes.transpose_a, tb = node.attributes.transpose_b;
  float alpha = node.attributes.alpha;
  std::vector<ValueId> grads(2, kNoValue);
  const Shape a_shape = graph.value(a).shape;
  const Shape b_shape = graph.value(b).shape;
  const std::string name = node.name + ".grad";
  if (request.needs_input_grad[0]) {
    if (!ta)
      grads[0] = tb ? matmul_node(graph, dc, b, false, false, alpha, name + "_a")
                    : matmul_node(graph, dc, b, false, true, alpha, name + "_a");
    else
      grads[0] = tb ? matmul_node(graph, b, dc, true, true, alpha, name + "_a")
                    : matmul_node(graph, b, dc, false, true, alpha, name + "_a");
  }
  if (request.needs_input_grad[1]) {
    ValueId a2 = a, dc2 = dc;
    if (a_shape.size() == 3 && b_shape.size() == 2) {
      // b is shared by every batch entry: fold the batch into rows so one GEMM sums it.
      const Shape dc_shape = graph.value(dc).shape;  // a copy: adding nodes moves values
      a2 = reshape_node(graph, a, {a_shape[0] * a_shape[1], a_shape[2]}, name + "_fold_a");
      dc2 = reshape_node(graph, dc, {dc_shape[0] * dc_shape[1], dc_shape[2]}, name + "_fold_dc");
    }
    if (!tb)
      grads[1] = ta ? matmul_node(graph, a2, dc2, false, false, alpha, name + "_b")
                    : matmul_node(graph, a2, dc2, true, false, alpha, name + "_b");
    else
      grads[1] = ta ? matmul_node(graph, dc2, a2, true, true, alpha, name + "_b")
                    : matmul_node(graph, dc2, a2, true, false, alpha, name + "_b");
  }
  return grads;
}

std::vector<ValueSpec> infer_bias_add(const Graph& graph, const Node& node) {
  const Shape& x = input_shape(graph, node, 0);
  expect_shape(graph, node, 1, {x.back()});
  return {{x}};
}

void run_bias_add(Backend& backend, const Node&, const NodeTensors& t, const RunContext&) {
  backend.bias_add(*t.inputs[0], *t.inputs[1], *t.outputs[0]);
}

std::vector<ValueId> gradient_bias_add(Graph& graph, const GradientRequest& request) {
  ValueId dy = request.output_grads[0];
  ValueId dbias = kNoValue;
  if (request.needs_input_grad[1])
    dbias = graph.add(OpKind::bias_grad, {dy}, {}, request.node.name + ".grad_bias");
  return {dy, dbias};
}

std::vector<ValueSpec> infer_bias_grad(const Graph& graph, const Node& node) {
  return {{{input_shape(graph, node, 0).back()}}};
}

void run_bias_grad(Backend& backend, const Node&, const NodeTensors& t, const RunContext&) {
  backend.bias_grad(*t.inputs[0], *t.outputs[0]);
}

std::vector<ValueSpec> infer_same_as_first(const Graph& graph, const Node& node) {
  const Shape& a = input_shape(graph, node, 0);
  for (int i = 1; i < static_cast<int>(node.inputs.size()); ++i) expect_shape(graph, node, i, a);
  return {{a}};
}

void run_add(Backend& backend, const Node&, const NodeTensors& t, const RunContext&) {
  backend.add(*t.inputs[0], *t.inputs[1], *t.outputs[0]);
}

std::vector<ValueId> gradient_add(Graph&, const GradientRequest& request) {
  return {request.output_grads[0], request.output_grads[0]};
}

void run_mul(Backend& backend, const Node&, const NodeTensors& t, const RunContext&) {
  backend.mul(*t.inputs[0], *t.inputs[1], *t.outputs[0]);
}

std::vector<ValueId> gradient_mul(Graph& graph, const GradientRequest& request) {
  const Node& node = request.node;
  ValueId dy = request.output_grads[0];
  std::vector<ValueId> grads(2, kNoValue);
  if (request.needs_input_grad[0])
    grads[0] = graph.add(OpKind::mul, {dy, node.inputs[1]}, {}, node.name + ".grad_a");
  if (request.needs_input_grad[1])
    grads[1] = graph.add(OpKind::mul, {dy, node.inputs[0]}, {}, node.name + ".grad_b");
  return grads;
}

void run_scale(Backend& backend, const Node& node, const NodeTensors& t, const RunContext&) {
  backend.scale(*t.inputs[0], node.attributes.alpha, *t.outputs[0]);
}

std::vector<ValueId> gradient_scale(Graph& graph, const GradientRequest& request) {
  Attributes attributes;
  attributes.alpha = request.node.attributes.alpha;
  return {graph.add(OpKind::scale, {request.output_grads[0]}, attributes,
                    request.node.name + ".grad")};
}

std::vector<ValueSpec> infer_accumulate(const Graph&, const Node&) { return {}; }

void run_accumulate(Backend& backend, const Node&, const NodeTensors& t, const RunContext&) {
  backend.accumulate(*t.inputs[0], *t.outputs[0]);
}

}  // namespace

const OpDefinition kMatmulOp{infer_matmul, run_matmul, gradient_matmul};
const OpDefinition kBiasAddOp{infer_bias_add, run_bias_add, gradient_bias_add};
const OpDefinition kBiasGradOp{infer_bias_grad, run_bias_grad, nullptr};
const OpDefinition kAddOp{infer_same_as_first, run_add, gradient_add};
const OpDefinition kMulOp{infer_same_as_first, run_mul, gradient_mul};
const OpDefinition kScaleOp{infer_same_as_first, run_scale, gradient_scale};
const OpDefinition kAccumulateOp{infer_accumulate, run_accumulate, nullptr};

}  // namespace seqtrain
