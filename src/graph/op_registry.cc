#include "graph/op_definition.h"

namespace seqtrain {

namespace {

#define SEQTRAIN_OP_DEFINITION(kind, definition) &k##definition##Op,
constexpr const OpDefinition* kOpDefinitions[] = {SEQTRAIN_OPS(SEQTRAIN_OP_DEFINITION)};
#undef SEQTRAIN_OP_DEFINITION

#define SEQTRAIN_OP_NAME(kind, definition) #kind,
constexpr const char* kOpNames[] = {SEQTRAIN_OPS(SEQTRAIN_OP_NAME)};
#undef SEQTRAIN_OP_NAME

}  // namespace

const OpDefinition& op_definition(OpKind op) {
  const auto index = static_cast<std::size_t>(op);
  SEQTRAIN_CHECK(index < std::size(kOpDefinitions), "unknown op kind {}", index);
  return *kOpDefinitions[index];
}

const char* op_name(OpKind op) {
  const auto index = static_cast<std::size_t>(op);
  SEQTRAIN_CHECK(index < std::size(kOpNames), "unknown op kind {}", index);
  return kOpNames[index];
}

const Shape& input_shape(const Graph& graph, const Node& node, int input) {
  SEQTRAIN_CHECK(input < static_cast<int>(node.inputs.size()) && node.inputs[input] != kNoValue,
                 "{} '{}': input {} is missing", op_name(node.op), node.name, input);
  return graph.value(node.inputs[input]).shape;
}

void expect_shape(const Graph& graph, const Node& node, int input, const Shape& expected) {
  const Shape& actual = input_shape(graph, node, input);
  SEQTRAIN_CHECK(actual == expected, "{} '{}': input {} has shape {}, expected {}",
                 op_name(node.op), node.name, input, shape_string(actual),
                 shape_string(expected));
}

void expect_rank(const Graph& graph, const Node& node, int input, int rank) {
  const Shape& actual = input_shape(graph, node, input);
  SEQTRAIN_CHECK(static_cast<int>(actual.size()) == rank, "{} '{}': input {} has shape {}, expected rank {}",
                 op_name(node.op), node.name, input, shape_string(actual), rank);
}

void expect_dtype(const Graph& graph, const Node& node, int input, DType dtype) {
  input_shape(graph, node, input);
  DType actual = graph.value(node.inputs[input]).dtype;
  SEQTRAIN_CHECK(actual == dtype, "{} '{}': input {} has dtype {}, expected {}",
                 op_name(node.op), node.name, input, dtype_name(actual),
                 dtype_name(dtype));
}

}  // namespace seqtrain
