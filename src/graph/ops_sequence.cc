// Embedding lookup and the recurrent layer (LSTM, GRU, tanh RNN over a sequence).
#include "graph/op_definition.h"

namespace seqtrain {
namespace {

// Inputs table [V, D], ids [...] int32; output [..., D].
std::vector<ValueSpec> infer_embedding(const Graph& graph, const Node& node) {
  expect_rank(graph, node, 0, 2);
  expect_dtype(graph, node, 1, DType::i32);
  Shape out = input_shape(graph, node, 1);
  out.push_back(input_shape(graph, node, 0)[1]);
  return {{out}};
}

void run_embedding(Backend& backend, const Node&, const NodeTensors& t, const RunContext&) {
  backend.embedding_forward(*t.inputs[0], *t.inputs[1], *t.outputs[0]);
}

std::vector<ValueId> gradient_embedding(Graph& graph, const GradientRequest& request) {
  const Node& node = request.node;
  Attributes attributes;
  attributes.shape = graph.value(node.inputs[0]).shape;
  return {graph.add(OpKind::embedding_backward, {node.inputs[1], request.output_grads[0]},
                    attributes, node.name + ".grad"),
          kNoValue};
}

std::vector<ValueSpec> infer_embedding_backward(const Graph&, const Node& node) {
  return {{node.attributes.shape}};
}

void run_embedding_backward(Backend& backend, const Node&, const NodeTensors& t,
                            const RunContext&) {
  backend.embedding_backward(*t.inputs[0], *t.inputs[1], *t.outputs[0]);
}

// Inputs: x [T,B,I], weight_ih [G*H,I], weight_hh [G*H,H], bias_ih [G*H],
// bias_hh [G*H], h0 [B,H], c0 [B,H], lengths [B] int32. h0 and c0 may be
// missing (kNoValue): the initial state is then zero.
// Outputs: y [T,B,H], h_n [B,H], c_n [B,H], workspace [T,B,W*H],
// input_projection [T,B,G*H] (scratch).
std::vector<ValueSpec> infer_rnn(const Graph& graph, const Node& node) {
  expect_rank(graph, node, 0, 3);
  expect_rank(graph, node, 2, 2);
  const Shape& x = input_shape(graph, node, 0);
  const std::int64_t steps = x[0], batch = x[1], input_size = x[2];
  const std::int64_t hidden = input_shape(graph, node, 2)[1];
  const std::int64_t gates = rnn_gate_count(node.attributes.cell) * hidden;
  expect_shape(graph, node, 1, {gates, input_size});
  expect_shape(graph, node, 2, {gates, hidden});
  expect_shape(graph, node, 3, {gates});
  expect_shape(graph, node, 4, {gates});
  if (node.inputs[5] != kNoValue) expect_shape(graph, node, 5, {batch, hidden});
  if (node.inputs[6] != kNoValue) expect_shape(graph, node, 6, {batch, hidden});
  expect_shape(graph, node, 7, {batch});
  expect_dtype(graph, node, 7, DType::i32);
  const std::int64_t workspace = rnn_workspace_width(node.attributes.cell) * hidden;
  return {{{steps, batch, hidden}},
          {{batch, hidden}},
          {{batch, hidden}},
          {{steps, batch, workspace}},
          {{steps, batch, gates}}};
}

const Tensor* if_defined(const Tensor* tensor) { return tensor->defined() ? tensor : nullptr; }

void run_rnn(Backend& backend, const Node& node, const NodeTensors& t,
             const RunContext& context) {
  RnnForwardArgs args{node.attributes.cell,   node.attributes.reverse,
                      t.inputs[0],            t.inputs[1],
                      t.inputs[2],            t.inputs[3],
                      t.inputs[4],            if_defined(t.inputs[5]),
                      if_defined(t.inputs[6]), t.inputs[7],
                      t.outputs[0],           t.outputs[1],
                      t.outputs[2],           t.outputs[3],
                      t.outputs[4]};
  args.training = context.training;
  backend.rnn_forward(args);
}

std::vector<ValueId> gradient_rnn(Graph& graph, const GradientRequest& request) {
  const Node& node = request.node;
  const auto& in = node.inputs;
  const auto& out = node.outputs;
  const auto& dout = request.output_grads;
  auto grads = graph.add_node(OpKind::rnn_backward,
                              {in[0], in[1], in[2], in[5], in[6], in[7], out[0], out[3], dout[0],
                               dout[1], dout[2]},
                              node.attributes, node.name + ".grad");
  // dx, dweight_ih, dweight_hh, dbias_ih, dbias_hh, dh0, dc0, lengths (none)
  return {grads[0], grads[1], grads[2], grads[3], grads[4], grads[5], grads[6], kNoValue};
}

// Inputs: x, weight_ih, weight_hh, h0, c0, lengths, y, workspace, dy, dh_n, dc_n
// (h0, c0 and the last three may be missing). Outputs: dx, dweight_ih, dweight_hh, dbias_ih,
// dbias_hh, dh0, dc0, gate_grads (scratch).
std::vector<ValueSpec> infer_rnn_backward(const Graph& graph, const Node& node) {
  const Shape& x = input_shape(graph, node, 0);
  const Shape& weight_ih = input_shape(graph, node, 1);
  const Shape& weight_hh = input_shape(graph, node, 2);
  const Shape h0{x[1], weight_hh[1]};
  return {{x},         {weight_ih}, {weight_hh}, {{weight_ih[0]}},
          {{weight_ih[0]}}, {h0},   {h0},        {{x[0], x[1], weight_ih[0]}}};
}

void run_rnn_backward(Backend& backend, const Node& node, const NodeTensors& t,
                      const RunContext&) {
  const auto& in = t.inputs;
  const auto& out = t.outputs;
  RnnBackwardArgs args{node.attributes.cell,
                       node.attributes.reverse,
                       in[0], in[1], in[2], if_defined(in[3]), if_defined(in[4]), in[5],
                       in[6], in[7], if_defined(in[8]), if_defined(in[9]), if_defined(in[10]),
                       out[0], out[1], out[2], out[3], out[4], out[5], out[6], out[7]};
  backend.rnn_backward(args);
}

}  // namespace

const OpDefinition kEmbeddingOp{infer_embedding, run_embedding, gradient_embedding};
const OpDefinition kEmbeddingBackwardOp{infer_embedding_backward,
                                        run_embedding_backward, nullptr};
const OpDefinition kRnnOp{infer_rnn, run_rnn, gradient_rnn};
const OpDefinition kRnnBackwardOp{infer_rnn_backward, run_rnn_backward, nullptr};

}  // namespace seqtrain
