#include "models/layers.h"

namespace seqtrain {

ValueId add_linear(Graph& graph, ValueId x, const std::string& prefix, std::int64_t out,
                   std::int64_t in, const std::string& name) {
  Attributes transpose_b;
  transpose_b.transpose_b = true;
  const ValueId product =
      graph.add(OpKind::matmul, {x, graph.add_parameter(prefix + ".weight", {out, in})},
                transpose_b, name);
  return graph.add(OpKind::bias_add, {product, graph.add_parameter(prefix + ".bias", {out})}, {},
                   name + ".bias");
}

ValueId add_embedding(Graph& graph, const std::string& table_name, const Shape& table_shape,
                      ValueId ids, const std::string& name) {
  return graph.add(OpKind::embedding, {graph.add_parameter(table_name, table_shape), ids}, {},
                   name);
}

ValueId add_layernorm(Graph& graph, ValueId x, const std::string& prefix, float epsilon,
                      const std::string& name) {
  const std::int64_t width = graph.value(x).shape.back();
  Attributes attributes;
  attributes.epsilon = epsilon;
  return graph.add_node(OpKind::layernorm,
                        {x, graph.add_parameter(prefix + ".weight", {width}),
                         graph.add_parameter(prefix + ".bias", {width})},
                        attributes, name)[0];
}

ValueId add_activation(Graph& graph, ValueId x, Activation activation, const std::string& name) {
  Attributes attributes;
  attributes.activation = activation;
  return graph.add(OpKind::activation, {x}, attributes, name);
}

ValueId add_dropout(Graph& graph, ValueId x, float probability, std::uint64_t stream,
                    const std::string& name, int batch_axis) {
  if (probability == 0.0f) return x;
  Attributes attributes;
  attributes.probability = probability;
  attributes.stream = stream;
  attributes.batch_axis = batch_axis;
  return graph.add(OpKind::dropout, {x}, attributes, name);
}

ValueId add_reshape(Graph& graph, ValueId x, Shape shape, const std::string& name) {
  Attributes attributes;
  attributes.shape = std::move(shape);
  return graph.add(OpKind::reshape, {x}, attributes, name);
}

ValueId add_self_attention(Graph& graph, ValueId x, ValueId lengths, const SelfAttentionShape& shape,
                           const std::string& prefix, std::uint64_t stream,
                           const std::string& name) {
  const std::int64_t hidden = shape.hidden, heads = shape.heads;
  ValueId qkv = add_linear(graph, x, prefix + ".self.qkv", 3 * hidden, hidden, name + "qkv");
  qkv = add_reshape(graph, qkv, {shape.batch, shape.length, 3, heads, hidden / heads},
                    name + "qkv.heads");
  Attributes attributes;
  attributes.heads = heads;
  attributes.causal = shape.causal;
  attributes.probability = shape.attention_dropout;
  attributes.stream = stream;
  ValueId context = graph.add(OpKind::attention, {qkv, lengths}, attributes, name + "attention");
  context = add_reshape(graph, context, {shape.batch * shape.length, hidden},
                        name + "attention.rows");
  const ValueId output = add_linear(graph, context, prefix + ".output.dense", hidden, hidden,
                                    name + "attention.output");
  return add_dropout(graph, output, shape.output_dropout, stream + 1, name + "attention.dropout");
}

ValueId add_feed_forward(Graph& graph, ValueId x, const FeedForwardShape& shape,
                         const std::string& inner_prefix, const std::string& output_prefix,
                         std::uint64_t stream, const std::string& name) {
  ValueId inner =
      add_linear(graph, x, inner_prefix, shape.intermediate, shape.hidden, name + "intermediate");
  inner = add_activation(graph, inner, shape.activation, name + "intermediate.activation");
  const ValueId output =
      add_linear(graph, inner, output_prefix, shape.hidden, shape.intermediate, name + "output");
  return add_dropout(graph, output, shape.dropout, stream, name + "output.dropout");
}

}  // namespace seqtrain
