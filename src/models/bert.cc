#include "models/bert.h"

#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "models/layers.h"
#include "seqtrain/attention_head_dims.h"
#include "seqtrain/rng.h"

namespace seqtrain {
namespace {

using model_io::kInputIds;
using model_io::kLengths;
using model_io::kMaskedLabels;
using model_io::kMaskedPositions;
using model_io::kPositionIds;
using model_io::kTokenTypeIds;

// Parameter p (in insertion order) is drawn from stream kInitStreamBase + p.
constexpr std::uint64_t kInitStreamBase = 0x4245525449000000ull;
// Dropout sites: the embeddings' is kDropoutStreamBase; layer l's attention
// probabilities, attention output and FFN output are kDropoutStreamBase + 1 + 3l + {0, 1, 2}.
constexpr std::uint64_t kDropoutStreamBase = 0x4245525444000000ull;

// [PAD] is id 0 (data/mlm_batch.h); HF zeroes its embedding row at initialisation.
constexpr std::int64_t kPadTokenId = 0;

void check_spec(const BertSpec& spec) {
  auto fail = [](const char* field, const std::string& value, const std::string& accepted) {
    throw ConfigError(
        fmt::format("bert model: {} = {} is invalid; expected {}", field, value, accepted));
  };
  auto at_least_one = [&](const char* field, int value) {
    if (value < 1) fail(field, std::to_string(value), "at least 1");
  };
  at_least_one("vocabulary_size", spec.vocabulary_size);
  at_least_one("hidden_size", spec.hidden_size);
  at_least_one("layers", spec.layers);
  at_least_one("heads", spec.heads);
  at_least_one("intermediate_size", spec.intermediate_size);
  at_least_one("max_positions", spec.max_positions);
  at_least_one("type_vocabulary_size", spec.type_vocabulary_size);
  if (spec.hidden_size % spec.heads != 0)
    fail("hidden_size", std::to_string(spec.hidden_size),
         fmt::format("a multiple of heads ({})", spec.heads));
  const int head_dim = spec.hidden_size / spec.heads;
  if (!is_attention_head_dim(head_dim))
    fail("hidden_size / heads", fmt::format("{} / {} = {}", spec.hidden_size, spec.heads, head_dim),
         "a head dimension of 32, 64 or 128 (the attention op's)");
  auto probability = [&](const char* field, float value) {
    if (!(value >= 0.0f && value < 1.0f))
      fail(field, fmt::format("{}", value), "a probability in [0, 1)");
  };
  probability("hidden_dropout", spec.hidden_dropout);
  probability("attention_dropout", spec.attention_dropout);
  if (!(spec.layer_norm_epsilon > 0.0f))
    fail("layer_norm_epsilon", fmt::format("{}", spec.layer_norm_epsilon), "a positive number");
  if (!(spec.initializer_range >= 0.0f))
    fail("initializer_range", fmt::format("{}", spec.initializer_range), "a number >= 0");
}

std::string layer_prefix(int layer) {
  return fmt::format("bert.encoder.layer.{}.", layer);
}

// Builds the graph of one (B, T, P) layout from the shared layers
// (models/layers.h); parameters are referred to by their Hugging Face names.
class BertGraphBuilder {
 public:
  BertGraphBuilder(const BertSpec& spec, Graph& graph, std::int64_t batch, std::int64_t length)
      : spec_(spec), g_(graph), batch_(batch), length_(length), rows_(batch * length) {}

  // [B, T] ids -> [B * T, H]: LN(word + position + token type), dropout.
  ValueId embeddings(ValueId input_ids, ValueId position_ids, ValueId token_type_ids) {
    const std::int64_t hidden = spec_.hidden_size;
    ValueId word = add_embedding(g_, kWordEmbeddings, {spec_.vocabulary_size, hidden}, input_ids,
                                 "embeddings.word");
    ValueId position = add_embedding(g_, "bert.embeddings.position_embeddings.weight",
                                     {spec_.max_positions, hidden}, position_ids,
                                     "embeddings.position");
    ValueId token_type = add_embedding(g_, "bert.embeddings.token_type_embeddings.weight",
                                       {spec_.type_vocabulary_size, hidden}, token_type_ids,
                                       "embeddings.token_type");
    ValueId sum = g_.add(OpKind::add, {word, position}, {}, "embeddings.word_position");
    sum = g_.add(OpKind::add, {sum, token_type}, {}, "embeddings.sum");
    sum = add_reshape(g_, sum, {rows_, hidden}, "embeddings.rows");
    ValueId normalised = layernorm(sum, "bert.embeddings.LayerNorm", "embeddings.layernorm");
    return add_dropout(g_, normalised, spec_.hidden_dropout, kDropoutStreamBase,
                       "embeddings.dropout");
  }

  ValueId encoder_layer(ValueId x, ValueId lengths, int layer) {
    const std::string prefix = layer_prefix(layer);
    const std::string name = fmt::format("layer{}.", layer);
    const std::uint64_t streams = kDropoutStreamBase + 1 + 3 * static_cast<std::uint64_t>(layer);
    const std::string attention_norm = prefix + "attention.output.LayerNorm";
    const std::string ffn_norm = prefix + "output.LayerNorm";
    if (spec_.pre_layernorm) {
      ValueId attended = attention(layernorm(x, attention_norm, name + "attention.layernorm"),
                                   lengths, prefix, name, streams);
      x = g_.add(OpKind::add, {x, attended}, {}, name + "attention.residual");
      ValueId transformed =
          feed_forward(layernorm(x, ffn_norm, name + "ffn.layernorm"), prefix, name, streams + 2);
      return g_.add(OpKind::add, {x, transformed}, {}, name + "ffn.residual");
    }
    ValueId attended = attention(x, lengths, prefix, name, streams);
    x = layernorm(g_.add(OpKind::add, {x, attended}, {}, name + "attention.residual"),
                  attention_norm, name + "attention.layernorm");
    ValueId transformed = feed_forward(x, prefix, name, streams + 2);
    return layernorm(g_.add(OpKind::add, {x, transformed}, {}, name + "ffn.residual"), ffn_norm,
                     name + "ffn.layernorm");
  }

  ValueId final_layernorm(ValueId x) {
    return layernorm(x, "bert.encoder.final_layernorm", "encoder.final_layernorm");
  }

  // Hidden states [B * T, H] -> logits [B * P, V] at the masked positions.
  ValueId mlm_head(ValueId hidden_states, ValueId masked_positions) {
    const std::int64_t hidden = spec_.hidden_size;
    // The embedding op gathers rows of any table, here of the activation; its
    // backward scatters the rows' gradients back (zero for unmasked rows).
    ValueId gathered =
        g_.add(OpKind::embedding, {hidden_states, masked_positions}, {}, "mlm.gather");
    ValueId transformed =
        add_linear(g_, gathered, "cls.predictions.transform.dense", hidden, hidden, "mlm.transform");
    transformed = add_activation(g_, transformed, Activation::gelu, "mlm.transform.gelu");
    transformed = layernorm(transformed, "cls.predictions.transform.LayerNorm", "mlm.layernorm");
    // The decoder is the word embedding table: logits = x E^T + b.
    Attributes transpose_b;
    transpose_b.transpose_b = true;
    ValueId logits = g_.add(
        OpKind::matmul,
        {transformed, g_.add_parameter(kWordEmbeddings, {spec_.vocabulary_size, hidden})},
        transpose_b, "mlm.decoder");
    return g_.add(OpKind::bias_add,
                  {logits, g_.add_parameter("cls.predictions.bias", {spec_.vocabulary_size})}, {},
                  "mlm.logits");
  }

 private:
  static constexpr const char* kWordEmbeddings = "bert.embeddings.word_embeddings.weight";

  ValueId attention(ValueId x, ValueId lengths, const std::string& prefix, const std::string& name,
                    std::uint64_t stream) {
    const SelfAttentionShape shape{batch_,         length_,
                                   spec_.hidden_size, spec_.heads,
                                   spec_.attention_dropout, spec_.hidden_dropout};
    return add_self_attention(g_, x, lengths, shape, prefix + "attention", stream, name);
  }

  ValueId feed_forward(ValueId x, const std::string& prefix, const std::string& name,
                       std::uint64_t stream) {
    const FeedForwardShape shape{spec_.hidden_size, spec_.intermediate_size, Activation::gelu,
                                 spec_.hidden_dropout};
    return add_feed_forward(g_, x, shape, prefix + "intermediate.dense", prefix + "output.dense",
                            stream, name);
  }

  ValueId layernorm(ValueId x, const std::string& prefix, const std::string& name) {
    return add_layernorm(g_, x, prefix, spec_.layer_norm_epsilon, name);
  }

  const BertSpec& spec_;
  Graph& g_;
  std::int64_t batch_, length_, rows_;
};

}  // namespace

BertModel::BertModel(const BertSpec& spec, ParameterStore& parameters, std::uint64_t seed)
    : spec_(spec) {
  check_spec(spec);
  const std::size_t first_parameter = parameters.all().size();
  const std::int64_t hidden = spec.hidden_size, intermediate = spec.intermediate_size;
  std::uint64_t next_stream = kInitStreamBase;
  // nn.Linear weights and embeddings: normal(0, initializer_range).
  auto weight = [&](const std::string& name, const Shape& shape) -> Parameter& {
    Parameter& parameter = parameters.add(name, shape, true);
    Rng rng(seed, next_stream++);
    parameters.set_value(parameter, normal_tensor(shape, spec.initializer_range, rng));
    return parameter;
  };
  auto bias = [&](const std::string& name, std::int64_t size) {
    parameters.add(name, {size}, false);  // zeros
    ++next_stream;
  };
  auto layernorm = [&](const std::string& prefix) {
    Parameter& gain = parameters.add(prefix + ".weight", {hidden}, false);
    parameters.set_value(gain, Tensor::from_vector(std::vector<float>(hidden, 1.0f), {hidden}));
    bias(prefix + ".bias", hidden);
  };
  auto linear = [&](const std::string& prefix, std::int64_t out, std::int64_t in) {
    weight(prefix + ".weight", {out, in});
    bias(prefix + ".bias", out);
  };

  Parameter& word =
      weight("bert.embeddings.word_embeddings.weight", {spec.vocabulary_size, hidden});
  Tensor word_values = parameters.value_to_host(word);
  for (std::int64_t j = 0; j < hidden; ++j)
    word_values.data<float>()[kPadTokenId * hidden + j] = 0.0f;
  parameters.set_value(word, word_values);
  weight("bert.embeddings.position_embeddings.weight", {spec.max_positions, hidden});
  weight("bert.embeddings.token_type_embeddings.weight", {spec.type_vocabulary_size, hidden});
  layernorm("bert.embeddings.LayerNorm");
  for (int layer = 0; layer < spec.layers; ++layer) {
    const std::string prefix = layer_prefix(layer);
    linear(prefix + "attention.self.qkv", 3 * hidden, hidden);
    linear(prefix + "attention.output.dense", hidden, hidden);
    layernorm(prefix + "attention.output.LayerNorm");
    linear(prefix + "intermediate.dense", intermediate, hidden);
    linear(prefix + "output.dense", hidden, intermediate);
    layernorm(prefix + "output.LayerNorm");
  }
  if (spec.pre_layernorm) layernorm("bert.encoder.final_layernorm");
  linear("cls.predictions.transform.dense", hidden, hidden);
  layernorm("cls.predictions.transform.LayerNorm");
  bias("cls.predictions.bias", spec.vocabulary_size);
  record_parameter_names(parameters, first_parameter);
}

ModelGraph BertModel::build_graph(const GraphShape& shape) const {
  const int batch = shape.batch, length = shape.length;
  const int masked_per_sequence = shape.masked_per_sequence;
  SEQTRAIN_CHECK(batch >= 1 && length >= 1 && masked_per_sequence >= 1 && !shape.with_state &&
                     shape.with_targets,
                 "bert graph for batch {}, length {}, {} masked per sequence (with state {}, "
                 "targets {})",
                 batch, length, masked_per_sequence, shape.with_state, shape.with_targets);
  if (length > spec_.max_positions)
    throw ConfigError(fmt::format(
        "bert model: sequence length {} exceeds max_positions {}; shorten the sequences or "
        "raise max_positions",
        length, spec_.max_positions));
  ModelGraph result;
  Graph& g = result.graph;
  const std::int64_t slots = static_cast<std::int64_t>(batch) * masked_per_sequence;
  ValueId input_ids = g.add_input(kInputIds, {batch, length}, DType::i32);
  ValueId token_type_ids = g.add_input(kTokenTypeIds, {batch, length}, DType::i32);
  ValueId position_ids = g.add_input(kPositionIds, {batch, length}, DType::i32);
  ValueId lengths = g.add_input(kLengths, {batch}, DType::i32);
  ValueId masked_positions = g.add_input(kMaskedPositions, {slots}, DType::i32);
  ValueId masked_labels = g.add_input(kMaskedLabels, {slots}, DType::i32);

  BertGraphBuilder builder(spec_, g, batch, length);
  ValueId x = builder.embeddings(input_ids, position_ids, token_type_ids);
  for (int layer = 0; layer < spec_.layers; ++layer) x = builder.encoder_layer(x, lengths, layer);
  if (spec_.pre_layernorm) x = builder.final_layernorm(x);
  result.output = builder.mlm_head(x, masked_positions);
  g.mark_output(result.output);
  Attributes loss_attributes;
  loss_attributes.ignore_index = kIgnoreTarget;
  result.loss = g.add_node(OpKind::cross_entropy, {result.output, masked_labels}, loss_attributes,
                           "mlm.loss")[0];
  g.set_loss(result.loss);
  return result;
}

void BertModel::bind_inputs(Executor& executor, const ModelInputs& inputs) const {
  // Every input but the position ids, each in the graph's exact shape.
  const Shape& ids_shape = executor.input(kInputIds).shape();
  for (const char* name : {kInputIds, kTokenTypeIds, kLengths, kMaskedPositions, kMaskedLabels}) {
    const auto given = std::ranges::find_if(
        inputs, [&](const ModelInput& input) { return std::string_view(input.name) == name; });
    SEQTRAIN_CHECK(given != inputs.end(), "bert: the batch has no '{}'", name);
    SEQTRAIN_CHECK(given->tensor.shape() == executor.input(name).shape(),
                   "bert: the batch's '{}' is {}, the graph's {}", name,
                   shape_string(given->tensor.shape()), shape_string(executor.input(name).shape()));
  }
  Model::bind_inputs(executor, inputs);
  const std::int64_t rows = ids_shape[0], length = ids_shape[1];
  std::vector<std::int32_t> positions(static_cast<std::size_t>(rows * length));
  for (std::size_t i = 0; i < positions.size(); ++i)
    positions[i] = static_cast<std::int32_t>(static_cast<std::int64_t>(i) % length);
  executor.set_input(kPositionIds, Tensor::from_vector(positions, ids_shape));
}

}  // namespace seqtrain
