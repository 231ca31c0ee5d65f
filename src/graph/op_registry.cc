#include "graph/op_definition.h"

namespace seqtrain {

const OpDefinition& op_definition(OpKind op) {
  switch (op) {
    case OpKind::embedding: return kEmbeddingOp;
    case OpKind::embedding_backward: return kEmbeddingBackwardOp;
    case OpKind::matmul: return kMatmulOp;
    case OpKind::bias_add: return kBiasAddOp;
    case OpKind::bias_grad: return kBiasGradOp;
    case OpKind::add: return kAddOp;
    case OpKind::mul: return kMulOp;
    case OpKind::scale: return kScaleOp;
    case OpKind::activation: return kActivationOp;
    case OpKind::activation_backward: return kActivationBackwardOp;
    case OpKind::softmax: return kSoftmaxOp;
    case OpKind::softmax_backward: return kSoftmaxBackwardOp;
    case OpKind::cross_entropy: return kCrossEntropyOp;
    case OpKind::cross_entropy_backward: return kCrossEntropyBackwardOp;
    case OpKind::mse: return kMseOp;
    case OpKind::mse_backward: return kMseBackwardOp;
    case OpKind::layernorm: return kLayernormOp;
    case OpKind::layernorm_backward: return kLayernormBackwardOp;
    case OpKind::dropout: return kDropoutOp;
    case OpKind::reshape: return kReshapeOp;
    case OpKind::transpose01: return kTranspose01Op;
    case OpKind::concat_last: return kConcatLastOp;
    case OpKind::split_last: return kSplitLastOp;
    case OpKind::sequence_last: return kSequenceLastOp;
    case OpKind::sequence_last_backward: return kSequenceLastBackwardOp;
    case OpKind::rnn: return kRnnOp;
    case OpKind::rnn_backward: return kRnnBackwardOp;
    case OpKind::accumulate: return kAccumulateOp;
    case OpKind::attention: return kAttentionOp;
    case OpKind::attention_backward: return kAttentionBackwardOp;
  }
  SEQTRAIN_CHECK(false, "unknown op kind {}", static_cast<int>(op));
}

const char* op_name(OpKind op) { return op_definition(op).name; }

const Shape& input_shape(const Graph& graph, const Node& node, int input) {
  SEQTRAIN_CHECK(input < static_cast<int>(node.inputs.size()) && node.inputs[input] != kNoValue,
                 "{} '{}': input {} is missing", op_definition(node.op).name, node.name, input);
  return graph.value(node.inputs[input]).shape;
}

void expect_shape(const Graph& graph, const Node& node, int input, const Shape& expected) {
  const Shape& actual = input_shape(graph, node, input);
  SEQTRAIN_CHECK(actual == expected, "{} '{}': input {} has shape {}, expected {}",
                 op_definition(node.op).name, node.name, input, shape_string(actual),
                 shape_string(expected));
}

void expect_rank(const Graph& graph, const Node& node, int input, int rank) {
  const Shape& actual = input_shape(graph, node, input);
  SEQTRAIN_CHECK(static_cast<int>(actual.size()) == rank, "{} '{}': input {} has shape {}, expected rank {}",
                 op_definition(node.op).name, node.name, input, shape_string(actual), rank);
}

void expect_dtype(const Graph& graph, const Node& node, int input, DType dtype) {
  input_shape(graph, node, input);
  DType actual = graph.value(node.inputs[input]).dtype;
  SEQTRAIN_CHECK(actual == dtype, "{} '{}': input {} has dtype {}, expected {}",
                 op_definition(node.op).name, node.name, input, dtype_name(actual),
                 dtype_name(dtype));
}

}  // namespace seqtrain
