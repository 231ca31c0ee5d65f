// The building blocks that models put in their graphs: each adds a few nodes
// and names its parameters as PyTorch and Hugging Face do (nn.Linear's
// "<prefix>.weight" [out, in] and "<prefix>.bias", nn.LayerNorm's weight and
// bias, an embedding table), so checkpoints line up with theirs. BERT
// (bert.cc) and the recurrent sequence models (sequence_model.cc) are built
// from these and from the recurrent stack (recurrent_stack.h); a new model
// should be too. Parameters are only referred to here: each model adds and
// initialises its own in the ParameterStore, with its own initialisation.
// `name` names the nodes (for printed graphs and errors).
#pragma once

#include <cstdint>
#include <string>

#include "seqtrain/graph.h"

namespace seqtrain {

// x W^T + b with W [out, in]: nodes `name` (matmul) and `name`.bias.
ValueId add_linear(Graph& graph, ValueId x, const std::string& prefix, std::int64_t out,
                   std::int64_t in, const std::string& name);

// Rows of the table parameter `table_name` [rows, width] at ids: [..., width].
ValueId add_embedding(Graph& graph, const std::string& table_name, const Shape& table_shape,
                      ValueId ids, const std::string& name);

// LayerNorm over the last axis with gain <prefix>.weight and bias <prefix>.bias.
ValueId add_layernorm(Graph& graph, ValueId x, const std::string& prefix, float epsilon,
                      const std::string& name);

ValueId add_activation(Graph& graph, ValueId x, Activation activation, const std::string& name);

// Dropout with its own random stream; no node at all when probability is 0
// (evaluation-only graphs then keep no mask). batch_axis: the axis the batch's
// rows lead (Attributes::batch_axis): 1 for time-major [T, B, ...].
ValueId add_dropout(Graph& graph, ValueId x, float probability, std::uint64_t stream,
                    const std::string& name, int batch_axis = 0);

ValueId add_reshape(Graph& graph, ValueId x, Shape shape, const std::string& name);

// Multi-head self-attention over rows x [B * T, hidden] with key lengths [B]:
// one fused QKV projection <prefix>.self.qkv, masked softmax(QK^T / sqrt d) V
// (the attention op, dropout on its probabilities from stream), the output
// projection <prefix>.output.dense, then dropout from stream + 1. Returns
// [B * T, hidden]. causal: step i attends to steps j <= i only (a language model).
struct SelfAttentionShape {
  std::int64_t batch = 0, length = 0, hidden = 0, heads = 0;
  float attention_dropout = 0.0f;  // on the probabilities
  float output_dropout = 0.0f;     // on the block's output
  bool causal = false;
};
ValueId add_self_attention(Graph& graph, ValueId x, ValueId lengths, const SelfAttentionShape& shape,
                           const std::string& prefix, std::uint64_t stream,
                           const std::string& name);

// The Transformer feed-forward block: <inner_prefix> [intermediate, hidden],
// activation, <output_prefix> [hidden, intermediate], dropout from stream.
struct FeedForwardShape {
  std::int64_t hidden = 0, intermediate = 0;
  Activation activation = Activation::gelu;
  float dropout = 0.0f;
};
ValueId add_feed_forward(Graph& graph, ValueId x, const FeedForwardShape& shape,
                         const std::string& inner_prefix, const std::string& output_prefix,
                         std::uint64_t stream, const std::string& name);

}  // namespace seqtrain
