// Reshaping, transposition, concatenation and picking a sequence's last step.
#include "graph/op_definition.h"

namespace seqtrain {
namespace {

// reshape is an alias: the output shares the input's storage (see Graph::add_node).
std::vector<ValueSpec> infer_reshape(const Graph& graph, const Node& node) {
  const Value& x = graph.value(node.inputs[0]);
  SEQTRAIN_CHECK(shape_numel(x.shape) == shape_numel(node.attributes.shape),
                 "reshape '{}': {} has {} elements, {} has {}", node.name, shape_string(x.shape),
                 shape_numel(x.shape), shape_string(node.attributes.shape),
                 shape_numel(node.attributes.shape));
  return {{node.attributes.shape, x.dtype}};
}

void run_reshape(Backend&, const Node&, const NodeTensors&, const RunContext&) {}

std::vector<ValueId> gradient_reshape(Graph& graph, const GradientRequest& request) {
  Attributes attributes;
  attributes.shape = graph.value(request.node.inputs[0]).shape;
  return {graph.add(OpKind::reshape, {request.output_grads[0]}, attributes,
                    request.node.name + ".grad")};
}

std::vector<ValueSpec> infer_transpose01(const Graph& graph, const Node& node) {
  expect_rank(graph, node, 0, 3);
  const Value& x = graph.value(node.inputs[0]);
  return {{{x.shape[1], x.shape[0], x.shape[2]}, x.dtype}};
}

void run_transpose01(Backend& backend, const Node&, const NodeTensors& t, const RunContext&) {
  backend.transpose01(*t.inputs[0], *t.outputs[0]);
}

std::vector<ValueId> gradient_transpose01(Graph& graph, const GradientRequest& request) {
  return {graph.add(OpKind::transpose01, {request.output_grads[0]}, {},
                    request.node.name + ".grad")};
}

std::vector<ValueSpec> infer_concat_last(const Graph& graph, const Node& node) {
  Shape a = input_shape(graph, node, 0);
  Shape b = input_shape(graph, node, 1);
  SEQTRAIN_CHECK(a.size() == b.size() && std::equal(a.begin(), a.end() - 1, b.begin()),
                 "concat_last '{}': {} and {} differ before the last axis", node.name,
                 shape_string(a), shape_string(b));
  a.back() += b.back();
  return {{a}};
}

void run_concat_last(Backend& backend, const Node&, const NodeTensors& t, const RunContext&) {
  backend.concat_last(*t.inputs[0], *t.inputs[1], *t.outputs[0]);
}

std::vector<ValueId> gradient_concat_last(Graph& graph, const GradientRequest& request) {
  Attributes attributes;
  attributes.split = graph.value(request.node.inputs[0]).shape.back();
  return graph.add_node(OpKind::split_last, {request.output_grads[0]}, attributes,
                        request.node.name + ".grad");
}

std::vector<ValueSpec> infer_split_last(const Graph& graph, const Node& node) {
  Shape a = input_shape(graph, node, 0);
  Shape b = a;
  SEQTRAIN_CHECK(node.attributes.split > 0 && node.attributes.split < a.back(),
                 "split_last '{}': split {} outside (0, {})", node.name, node.attributes.split,
                 a.back());
  a.back() = node.attributes.split;
  b.back() -= node.attributes.split;
  return {{a}, {b}};
}

void run_split_last(Backend& backend, const Node&, const NodeTensors& t, const RunContext&) {
  backend.split_last(*t.inputs[0], *t.outputs[0], *t.outputs[1]);
}

// Inputs x [T, B, H], lengths [B]; output [B, H].
std::vector<ValueSpec> infer_sequence_last(const Graph& graph, const Node& node) {
  expect_rank(graph, node, 0, 3);
  const Shape& x = input_shape(graph, node, 0);
  expect_shape(graph, node, 1, {x[1]});
  expect_dtype(graph, node, 1, DType::i32);
  return {{{x[1], x[2]}}};
}

void run_sequence_last(Backend& backend, const Node& node, const NodeTensors& t,
                       const RunContext&) {
  backend.sequence_last(*t.inputs[0], *t.inputs[1], node.attributes.reverse, *t.outputs[0]);
}

std::vector<ValueId> gradient_sequence_last(Graph& graph, const GradientRequest& request) {
  const Node& node = request.node;
  Attributes attributes = node.attributes;
  attributes.shape = graph.value(node.inputs[0]).shape;
  return {graph.add(OpKind::sequence_last_backward, {request.output_grads[0], node.inputs[1]},
                    attributes, node.name + ".grad"),
          kNoValue};
}

std::vector<ValueSpec> infer_sequence_last_backward(const Graph&, const Node& node) {
  return {{node.attributes.shape}};
}

void run_sequence_last_backward(Backend& backend, const Node& node, const NodeTensors& t,
                                const RunContext&) {
  backend.sequence_last_backward(*t.inputs[0], *t.inputs[1], node.attributes.reverse,
                                 *t.outputs[0]);
}

}  // namespace

const OpDefinition kReshapeOp{infer_reshape, run_reshape, gradient_reshape,
                               /*output_aliases_input=*/true};
const OpDefinition kTranspose01Op{infer_transpose01, run_transpose01,
                                  gradient_transpose01};
const OpDefinition kConcatLastOp{infer_concat_last, run_concat_last,
                                 gradient_concat_last};
const OpDefinition kSplitLastOp{infer_split_last, run_split_last, nullptr};
const OpDefinition kSequenceLastOp{infer_sequence_last, run_sequence_last,
                                   gradient_sequence_last};
const OpDefinition kSequenceLastBackwardOp{infer_sequence_last_backward,
                                           run_sequence_last_backward, nullptr};

}  // namespace seqtrain
