#include "models/transformer_decode_step.h"

#include <fmt/format.h>

#include <cmath>

#include "models/layers.h"
#include "models/transformer_sequence_model.h"
#include "seqtrain/error.h"

namespace seqtrain {
namespace {

ValueId split_node(Graph& graph, ValueId x, std::int64_t first, const std::string& name,
                   ValueId& rest) {
  Attributes attributes;
  attributes.split = first;
  const std::vector<ValueId> parts = graph.add_node(OpKind::split_last, {x}, attributes, name);
  rest = parts[1];
  return parts[0];
}

ValueId matmul_node(Graph& graph, ValueId a, ValueId b, bool transpose_b, float alpha,
                    const std::string& name) {
  Attributes attributes;
  attributes.transpose_b = transpose_b;
  attributes.alpha = alpha;
  return graph.add(OpKind::matmul, {a, b}, attributes, name);
}

}  // namespace

std::string decode_cache_input(int layer, bool keys) {
  return fmt::format("layer{}.{}_transposed", layer, keys ? "keys" : "values");
}

DecodeStepGraph build_transformer_decode_step(const SequenceModelSpec& spec, std::int64_t batch,
                                              std::int64_t cached) {
  SEQTRAIN_CHECK(spec.type == ModelType::transformer && spec.task == Task::charlm,
                 "decode step: a charlm transformer's spec, not {} / {}",
                 static_cast<int>(spec.type), static_cast<int>(spec.task));
  if (cached + 1 > spec.max_positions)
    throw ConfigError(fmt::format(
        "decode step: a prefix of {} tokens is longer than the model's {} position embeddings",
        cached + 1, spec.max_positions));
  const std::int64_t hidden = spec.hidden_size, heads = spec.heads, head_dim = hidden / heads;
  const std::int64_t rows = batch * heads;  // one attention row per (sequence, head)
  DecodeStepGraph result;
  Graph& g = result.graph;
  const ValueId tokens = g.add_input(model_io::kTokens, {1, batch}, DType::i32);
  const ValueId position = g.add_input(kDecodePosition, {1, batch}, DType::i32);
  ValueId x = g.add(
      OpKind::add,
      {add_embedding(g, "embedding.weight", {spec.vocabulary_size, hidden}, tokens, "embedding"),
       add_embedding(g, "position_embedding.weight", {spec.max_positions, hidden}, position,
                     "position_embedding")},
      {}, "input.positions");
  x = add_reshape(g, x, {batch, hidden}, "rows");
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  for (int layer = 0; layer < spec.layers; ++layer) {
    const std::string prefix = transformer_layer_prefix(layer);
    const std::string name = fmt::format("layer{}.", layer);
    const ValueId normed = add_layernorm(g, x, prefix + "attention.LayerNorm",
                                         kTransformerLayerNormEpsilon, name + "ln1");
    const ValueId qkv =
        add_linear(g, normed, prefix + "attention.self.qkv", 3 * hidden, hidden, name + "qkv");
    ValueId kv = kNoValue, v = kNoValue;
    const ValueId q = split_node(g, qkv, hidden, name + "q", kv);
    const ValueId k = split_node(g, kv, hidden, name + "kv", v);
    // Rows of qkv hold heads x d per part: [B, H] is [B * heads, d] in memory.
    const ValueId query = add_reshape(g, q, {rows, 1, head_dim}, name + "query");
    ValueId keys = add_reshape(g, k, {rows, head_dim, 1}, name + "new_key");
    ValueId values = add_reshape(g, v, {rows, head_dim, 1}, name + "new_value");
    if (cached > 0) {
      keys = g.add(OpKind::concat_last,
                   {g.add_input(decode_cache_input(layer, true), {rows, head_dim, cached}), keys},
                   {}, name + "keys");
      values =
          g.add(OpKind::concat_last,
                {g.add_input(decode_cache_input(layer, false), {rows, head_dim, cached}), values},
                {}, name + "values");
    }
    result.keys.push_back(keys);
    result.values.push_back(values);
    const std::int64_t steps = cached + 1;
    ValueId scores = matmul_node(g, query, keys, false, scale, name + "scores");  // [rows, 1, P]
    scores = add_reshape(g, scores, {rows, steps}, name + "scores.rows");
    ValueId probabilities = g.add(OpKind::softmax, {scores}, {}, name + "probabilities");
    probabilities = add_reshape(g, probabilities, {rows, 1, steps}, name + "probabilities.rows");
    ValueId context = matmul_node(g, probabilities, values, true, 1.0f, name + "context");
    context = add_reshape(g, context, {batch, hidden}, name + "context.rows");
    const ValueId attended = add_linear(g, context, prefix + "attention.output.dense", hidden,
                                        hidden, name + "attention.output");
    x = g.add(OpKind::add, {x, attended}, {}, name + "attention.residual");
    const FeedForwardShape ffn{hidden, spec.intermediate_size, Activation::gelu, 0.0f};
    const ValueId transformed =
        add_feed_forward(g,
                         add_layernorm(g, x, prefix + "output.LayerNorm",
                                       kTransformerLayerNormEpsilon, name + "ln2"),
                         ffn, prefix + "intermediate.dense", prefix + "output.dense", 0, name);
    x = g.add(OpKind::add, {x, transformed}, {}, name + "ffn.residual");
  }
  x = add_layernorm(g, x, "encoder.final_layernorm", kTransformerLayerNormEpsilon,
                    "final_layernorm");
  result.logits = add_linear(g, x, "head", spec.output_size, hidden, "head");
  g.mark_output(result.logits);
  for (int layer = 0; layer < spec.layers; ++layer) {
    g.mark_output(result.keys[static_cast<std::size_t>(layer)]);
    g.mark_output(result.values[static_cast<std::size_t>(layer)]);
  }
  return result;
}

}  // namespace seqtrain
