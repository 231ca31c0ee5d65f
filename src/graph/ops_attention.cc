// Multi-head self-attention over a fused QKV projection (formulas and layouts:
// Backend::attention_forward in seqtrain/backend.h).
//
// attention           inputs  qkv [B, T, 3, heads, d], key_lengths [B] int32
//                     outputs context [B, T, heads * d], log_sum_exp [B, heads, T]
// attention_backward  inputs  qkv, key_lengths, context, log_sum_exp, dcontext
//                     outputs dqkv [B, T, 3, heads, d]
// log_sum_exp is the saved activation: with it backward recomputes the
// probabilities tile by tile, so no T x T matrix lives between the passes.
// Attributes: heads (checked against qkv), causal (query i sees keys j <= i
// only), probability and stream (attention dropout, applied only when the run
// is training).
#include "graph/op_definition.h"

namespace seqtrain {
namespace {

// qkv [B, T, 3, heads, d]; a data-parallel rank's rows start at global row
// context.first_row, whose probabilities start at element first_row * heads * T * T.
AttentionDropout attention_dropout(const Node& node, const RunContext& context,
                                   const Tensor& qkv) {
  const auto steps = static_cast<std::uint64_t>(qkv.dim(1));
  return {context.training ? node.attributes.probability : 0.0f, context.seed,
          node.attributes.stream, context.step,
          static_cast<std::uint64_t>(context.first_row) *
              static_cast<std::uint64_t>(node.attributes.heads) * steps * steps};
}

std::vector<ValueSpec> infer_attention(const Graph& graph, const Node& node) {
  expect_rank(graph, node, 0, 5);
  expect_dtype(graph, node, 0, DType::f32);
  const Shape& qkv = input_shape(graph, node, 0);
  const std::int64_t batch = qkv[0], steps = qkv[1], heads = qkv[3], head_dim = qkv[4];
  SEQTRAIN_CHECK(qkv[2] == 3 && heads == node.attributes.heads && head_dim > 0,
                 "attention '{}': qkv has shape {}, expected [B, T, 3, {}, d]", node.name,
                 shape_string(qkv), node.attributes.heads);
  SEQTRAIN_CHECK(node.attributes.probability >= 0.0f && node.attributes.probability < 1.0f,
                 "attention '{}': dropout probability {} outside [0, 1)", node.name,
                 node.attributes.probability);
  expect_shape(graph, node, 1, {batch});
  expect_dtype(graph, node, 1, DType::i32);
  return {{{batch, steps, heads * head_dim}}, {{batch, heads, steps}}};
}

void run_attention(Backend& backend, const Node& node, const NodeTensors& t,
                   const RunContext& context) {
  backend.attention_forward(*t.inputs[0], *t.inputs[1], node.attributes.causal,
                            attention_dropout(node, context, *t.inputs[0]), *t.outputs[0],
                            *t.outputs[1]);
}

std::vector<ValueId> gradient_attention(Graph& graph, const GradientRequest& request) {
  const Node& node = request.node;
  // Only the context carries a gradient; log_sum_exp is saved for backward.
  SEQTRAIN_CHECK(request.output_grads[1] == kNoValue,
                 "attention '{}': log_sum_exp is not differentiable", node.name);
  ValueId dqkv = graph.add(
      OpKind::attention_backward,
      {node.inputs[0], node.inputs[1], node.outputs[0], node.outputs[1], request.output_grads[0]},
      node.attributes, node.name + ".grad");
  return {dqkv, kNoValue};
}

std::vector<ValueSpec> infer_attention_backward(const Graph& graph, const Node& node) {
  const Shape& qkv = input_shape(graph, node, 0);
  expect_rank(graph, node, 0, 5);
  const Shape context{qkv[0], qkv[1], qkv[3] * qkv[4]};
  expect_shape(graph, node, 1, {qkv[0]});
  expect_shape(graph, node, 2, context);
  expect_shape(graph, node, 3, {qkv[0], qkv[3], qkv[1]});
  expect_shape(graph, node, 4, context);
  return {{qkv}};
}

void run_attention_backward(Backend& backend, const Node& node, const NodeTensors& t,
                            const RunContext& context) {
  backend.attention_backward(*t.inputs[0], *t.inputs[1], node.attributes.causal, *t.inputs[2],
                             *t.inputs[3], *t.inputs[4], attention_dropout(node, context, *t.inputs[0]),
                             *t.outputs[0]);
}

}  // namespace

const OpDefinition kAttentionOp{infer_attention, run_attention, gradient_attention};
const OpDefinition kAttentionBackwardOp{infer_attention_backward,
                                        run_attention_backward, nullptr};

}  // namespace seqtrain
