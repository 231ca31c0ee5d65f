#include "bench/affinity_workloads.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "models/layers.h"
#include "models/recurrent_stack.h"
#include "seqtrain/error.h"
#include "seqtrain/rng.h"

namespace seqtrain {
namespace {

constexpr float kLayerNormEpsilon = 1e-5f;
constexpr const char* kLengths = "lengths";
constexpr const char* kTargets = "targets";

// The loss every workload ends in: mean squared error of rows [rows, H]
// against the zero targets.
void add_loss(Graph& graph, ValueId rows) {
  const Shape shape = graph.value(rows).shape;
  const ValueId targets = graph.add_input(kTargets, shape);
  graph.set_loss(graph.add(OpKind::mse, {rows, targets}, {}, "loss"));
}

Graph lstm_layer_graph(const AffinityShape& shape) {
  const std::int64_t steps = shape.length, batch = shape.batch, hidden = shape.hidden;
  Graph graph;
  const ValueId x = graph.add_parameter("input", {steps, batch, hidden});
  const ValueId lengths = graph.add_input(kLengths, {batch}, DType::i32);
  RecurrentStackSpec spec;
  spec.cell = RnnCell::lstm;
  spec.input_size = static_cast<int>(hidden);
  spec.hidden_size = static_cast<int>(hidden);
  const RecurrentStackOutput stack =
      add_recurrent_stack(graph, spec, "rnn.", x, lengths, nullptr, 0);
  add_loss(graph, add_reshape(graph, stack.output, {steps * batch, hidden}, "rows"));
  return graph;
}

Graph transformer_layer_graph(const AffinityShape& shape) {
  const std::int64_t steps = shape.length, batch = shape.batch, hidden = shape.hidden;
  Graph graph;
  // Batch-major rows [B * T, H], as the attention op reads them.
  const ValueId x = graph.add_parameter("input", {batch * steps, hidden});
  const ValueId lengths = graph.add_input(kLengths, {batch}, DType::i32);
  const SelfAttentionShape attention{batch, steps, hidden, affinity_heads(hidden),
                                     0.0f,  0.0f,  false};
  const ValueId attended = add_self_attention(
      graph, add_layernorm(graph, x, "layer.attention.LayerNorm", kLayerNormEpsilon, "ln1"),
      lengths, attention, "layer.attention", 0, "layer.");
  const ValueId residual = graph.add(OpKind::add, {x, attended}, {}, "attention.residual");
  const FeedForwardShape ffn{hidden, 4 * hidden, Activation::gelu, 0.0f};
  const ValueId transformed = add_feed_forward(
      graph, add_layernorm(graph, residual, "layer.output.LayerNorm", kLayerNormEpsilon, "ln2"),
      ffn, "layer.intermediate.dense", "layer.output.dense", 0, "layer.");
  add_loss(graph, graph.add(OpKind::add, {residual, transformed}, {}, "ffn.residual"));
  return graph;
}

Graph attention_op_graph(const AffinityShape& shape) {
  const std::int64_t steps = shape.length, batch = shape.batch, hidden = shape.hidden;
  const std::int64_t heads = affinity_heads(hidden);
  Graph graph;
  const ValueId qkv = graph.add_parameter("qkv", {batch, steps, 3, heads, hidden / heads});
  const ValueId lengths = graph.add_input(kLengths, {batch}, DType::i32);
  Attributes attributes;
  attributes.heads = heads;
  const ValueId context = graph.add(OpKind::attention, {qkv, lengths}, attributes, "attention");
  add_loss(graph, add_reshape(graph, context, {batch * steps, hidden}, "rows"));
  return graph;
}

}  // namespace

const char* affinity_workload_name(AffinityWorkload workload) {
  switch (workload) {
    case AffinityWorkload::lstm_layer: return "lstm_layer";
    case AffinityWorkload::transformer_layer: return "transformer_layer";
    case AffinityWorkload::attention_op: return "attention_op";
  }
  return "?";
}

std::int64_t affinity_heads(std::int64_t hidden) {
  if (hidden < 32 || hidden % 32 != 0)
    throw ConfigError(fmt::format(
        "--hidden {}: the width must be a positive multiple of 32 (the attention heads are 32 or "
        "64 wide)",
        hidden));
  return hidden % 64 == 0 ? hidden / 64 : hidden / 32;
}

double affinity_step_flop(AffinityWorkload workload, const AffinityShape& shape) {
  const double batch = static_cast<double>(shape.batch), steps = static_cast<double>(shape.length),
               hidden = static_cast<double>(shape.hidden);
  const double tokens = batch * steps;
  const double attention = 14.0 * batch * steps * steps * hidden;
  switch (workload) {
    case AffinityWorkload::lstm_layer: return 6.0 * tokens * (4.0 * hidden) * (hidden + hidden);
    case AffinityWorkload::transformer_layer: return 72.0 * tokens * hidden * hidden + attention;
    case AffinityWorkload::attention_op: return attention;
  }
  return 0.0;
}

Graph build_affinity_graph(AffinityWorkload workload, const AffinityShape& shape) {
  SEQTRAIN_CHECK(shape.batch >= 1 && shape.length >= 1, "affinity shape: batch {} length {}",
                 shape.batch, shape.length);
  affinity_heads(shape.hidden);  // checks the width
  Graph graph;
  switch (workload) {
    case AffinityWorkload::lstm_layer: graph = lstm_layer_graph(shape); break;
    case AffinityWorkload::transformer_layer: graph = transformer_layer_graph(shape); break;
    case AffinityWorkload::attention_op: graph = attention_op_graph(shape); break;
  }
  return graph;
}

// LayerNorm gains 1, everything else uniform(-1/sqrt(fan_in), 1/sqrt(fan_in))
// with fan_in its last axis.
void add_affinity_parameters(const Graph& graph, ParameterStore& store, std::uint64_t seed) {
  std::uint64_t stream = 0;
  for (const Value& value : graph.values()) {
    if (value.kind != ValueKind::parameter || store.find(value.name) != nullptr) continue;
    Parameter& parameter = store.add(value.name, value.shape, value.shape.size() >= 2);
    if (value.name.find("LayerNorm.weight") != std::string::npos) {
      const std::int64_t width = value.shape.back();
      store.set_value(parameter,
                      Tensor::from_vector(std::vector<float>(static_cast<std::size_t>(width), 1.0f),
                                          value.shape));
      continue;
    }
    Rng rng(seed, stream++);
    const float bound = 1.0f / std::sqrt(static_cast<float>(value.shape.back()));
    store.set_value(parameter, uniform_tensor(value.shape, bound, rng));
  }
}

void fill_affinity_inputs(Executor& executor, const AffinityShape& shape) {
  executor.set_input(kLengths, Tensor::from_vector(std::vector<std::int32_t>(
                                                       static_cast<std::size_t>(shape.batch),
                                                       static_cast<std::int32_t>(shape.length)),
                                                   {shape.batch}));
  const Shape targets = executor.input(kTargets).shape();
  executor.set_input(kTargets, Tensor::zeros(targets, DType::f32));
}

std::int64_t critical_path_steps(const Graph& graph) {
  const std::vector<Node>& nodes = graph.nodes();
  std::vector<std::int64_t> depth(nodes.size(), 0);
  std::int64_t longest = 0;
  for (std::size_t index = 0; index < nodes.size(); ++index) {
    const Node& node = nodes[index];
    std::int64_t before = 0;
    for (ValueId input : node.inputs) {
      if (input == kNoValue) continue;
      const int producer = graph.value(input).producer;
      if (producer >= 0) before = std::max(before, depth[static_cast<std::size_t>(producer)]);
    }
    const bool recurrent = node.op == OpKind::rnn || node.op == OpKind::rnn_backward;
    depth[index] = before + (recurrent ? graph.value(node.inputs[0]).shape[0] : 1);
    longest = std::max(longest, depth[index]);
  }
  return longest;
}

}  // namespace seqtrain
