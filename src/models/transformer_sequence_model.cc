#include "models/transformer_sequence_model.h"

#include <fmt/format.h>

#include <string>
#include <vector>

#include "models/layers.h"
#include "seqtrain/attention_head_dims.h"
#include "seqtrain/error.h"
#include "seqtrain/rng.h"

namespace seqtrain {
namespace {

constexpr const char* kPositions = "positions";  // [T, B] i32: t (filled by bind_inputs)
constexpr std::uint64_t kInitStreamBase = 0x5452414e53000000ull;
// Dropout sites: the input's is kDropoutStreamBase; layer l's attention
// probabilities, attention output and FFN output are kDropoutStreamBase + 1 + 3l + {0, 1, 2}.
constexpr std::uint64_t kDropoutStreamBase = 0x5452414e44000000ull;
constexpr float kInitializerRange = 0.02f;
constexpr float kLayerNormEpsilon = kTransformerLayerNormEpsilon;

bool uses_tokens(Task task) { return task != Task::adding; }

void check_spec(const SequenceModelSpec& spec) {
  if (spec.heads < 1 || spec.hidden_size % spec.heads != 0 ||
      !is_attention_head_dim(spec.hidden_size / spec.heads))
    throw ConfigError(fmt::format(
        "model.heads = {}: model.hidden_size {} / heads must be a head dimension the attention "
        "op has (32, 64 or 128)",
        spec.heads, spec.hidden_size));
  SEQTRAIN_CHECK(spec.intermediate_size >= 1 && spec.max_positions >= 1 && spec.output_size >= 1,
                 "transformer spec: intermediate {} positions {} outputs {}",
                 spec.intermediate_size, spec.max_positions, spec.output_size);
}

std::unique_ptr<SequenceModel> make_transformer(const SequenceModelSpec& spec,
                                                ParameterStore& parameters, std::uint64_t seed) {
  return std::make_unique<TransformerSequenceModel>(spec, parameters, seed);
}

}  // namespace

std::string transformer_layer_prefix(int layer) { return fmt::format("encoder.layer.{}.", layer); }

SEQTRAIN_REGISTER_SEQUENCE_MODEL(ModelType::transformer, make_transformer);

TransformerSequenceModel::TransformerSequenceModel(const SequenceModelSpec& spec,
                                                   ParameterStore& parameters, std::uint64_t seed)
    : spec_(spec) {
  check_spec(spec);
  const std::size_t first_parameter = parameters.all().size();
  const std::int64_t hidden = spec.hidden_size;
  std::uint64_t next_stream = kInitStreamBase;
  auto weight = [&](const std::string& name, const Shape& shape) {
    Parameter& parameter = parameters.add(name, shape, true);
    Rng rng(seed, next_stream++);
    parameters.set_value(parameter, normal_tensor(shape, kInitializerRange, rng));
  };
  auto bias = [&](const std::string& name, std::int64_t size) {
    parameters.add(name, {size}, false);  // zeros
    ++next_stream;
  };
  auto linear = [&](const std::string& prefix, std::int64_t out, std::int64_t in) {
    weight(prefix + ".weight", {out, in});
    bias(prefix + ".bias", out);
  };
  auto layernorm = [&](const std::string& prefix) {
    Parameter& gain = parameters.add(prefix + ".weight", {hidden}, false);
    parameters.set_value(gain, Tensor::from_vector(std::vector<float>(hidden, 1.0f), {hidden}));
    bias(prefix + ".bias", hidden);
  };
  if (uses_tokens(spec.task))
    weight("embedding.weight", {spec.vocabulary_size, hidden});
  else
    linear("input", hidden, spec.feature_size);
  weight("position_embedding.weight", {spec.max_positions, hidden});
  for (int layer = 0; layer < spec.layers; ++layer) {
    const std::string prefix = transformer_layer_prefix(layer);
    layernorm(prefix + "attention.LayerNorm");
    linear(prefix + "attention.self.qkv", 3 * hidden, hidden);
    linear(prefix + "attention.output.dense", hidden, hidden);
    layernorm(prefix + "output.LayerNorm");
    linear(prefix + "intermediate.dense", spec.intermediate_size, hidden);
    linear(prefix + "output.dense", hidden, spec.intermediate_size);
  }
  layernorm("encoder.final_layernorm");
  linear("head", spec.output_size, hidden);
  record_parameter_names(parameters, first_parameter);
}

ModelGraph TransformerSequenceModel::build_graph(const GraphShape& shape) const {
  const std::int64_t steps = shape.length, batch = shape.batch, hidden = spec_.hidden_size;
  SEQTRAIN_CHECK(!shape.with_state, "the transformer carries no state between batches");
  if (steps > spec_.max_positions)
    throw ConfigError(fmt::format(
        "transformer: a batch of {} steps is longer than its {} position embeddings "
        "(data.sequence_length)",
        steps, spec_.max_positions));
  ModelGraph result;
  Graph& g = result.graph;
  const float dropout = spec_.dropout;
  // Time-major input [T, B, H].
  ValueId x;
  if (uses_tokens(spec_.task)) {
    ValueId tokens = g.add_input(model_io::kTokens, {steps, batch}, DType::i32);
    x = add_embedding(g, "embedding.weight", {spec_.vocabulary_size, hidden}, tokens, "embedding");
  } else {
    ValueId features = g.add_input(model_io::kFeatures, {steps, batch, spec_.feature_size});
    features = add_reshape(g, features, {steps * batch, spec_.feature_size}, "input.rows");
    x = add_linear(g, features, "input", hidden, spec_.feature_size, "input");
    x = add_reshape(g, x, {steps, batch, hidden}, "input.steps");
  }
  ValueId lengths = g.add_input(model_io::kLengths, {batch}, DType::i32);
  ValueId positions = g.add_input(kPositions, {steps, batch}, DType::i32);
  x = g.add(OpKind::add,
            {x, add_embedding(g, "position_embedding.weight", {spec_.max_positions, hidden},
                              positions, "position_embedding")},
            {}, "input.positions");
  // Attention reads batch-major rows [B * T, H].
  x = g.add(OpKind::transpose01, {x}, {}, "batch_major");
  x = add_reshape(g, x, {batch * steps, hidden}, "rows");
  x = add_dropout(g, x, dropout, kDropoutStreamBase, "input.dropout");
  for (int layer = 0; layer < spec_.layers; ++layer) {
    const std::string prefix = transformer_layer_prefix(layer);
    const std::string name = fmt::format("layer{}.", layer);
    const std::uint64_t streams = kDropoutStreamBase + 1 + 3 * static_cast<std::uint64_t>(layer);
    // A language model must not see the characters it predicts.
    const SelfAttentionShape attention{batch,   steps,   hidden, spec_.heads,
                                       dropout, dropout, spec_.task == Task::charlm};
    ValueId attended = add_self_attention(
        g, add_layernorm(g, x, prefix + "attention.LayerNorm", kLayerNormEpsilon, name + "ln1"),
        lengths, attention, prefix + "attention", streams, name);
    x = g.add(OpKind::add, {x, attended}, {}, name + "attention.residual");
    const FeedForwardShape ffn{hidden, spec_.intermediate_size, Activation::gelu, dropout};
    ValueId transformed = add_feed_forward(
        g, add_layernorm(g, x, prefix + "output.LayerNorm", kLayerNormEpsilon, name + "ln2"), ffn,
        prefix + "intermediate.dense", prefix + "output.dense", streams + 2, name);
    x = g.add(OpKind::add, {x, transformed}, {}, name + "ffn.residual");
  }
  x = add_layernorm(g, x, "encoder.final_layernorm", kLayerNormEpsilon, "final_layernorm");
  x = add_reshape(g, x, {batch, steps, hidden}, "batch_major.steps");
  x = g.add(OpKind::transpose01, {x}, {}, "time_major");  // [T, B, H]
  ValueId features;
  if (spec_.task == Task::charlm)  // every step predicts the next token, rows t * B + b
    features = add_reshape(g, x, {steps * batch, hidden}, "head.input");
  else  // each sequence's state at its last step [B, H]
    features = g.add(OpKind::sequence_last, {x, lengths}, {}, "last_step");
  result.output = add_linear(g, features, "head", spec_.output_size, hidden, "head");
  g.mark_output(result.output);
  if (shape.with_targets) {
    if (spec_.task == Task::adding) {
      ValueId targets = g.add_input(model_io::kTargets, {batch, 1});
      result.loss = g.add(OpKind::mse, {result.output, targets}, {}, "loss");
    } else {
      const std::int64_t rows = g.value(result.output).shape[0];  // charlm T * B, else B
      ValueId targets = g.add_input(model_io::kTargets, {rows}, DType::i32);
      result.loss = g.add_node(OpKind::cross_entropy, {result.output, targets}, {}, "loss")[0];
    }
    g.set_loss(result.loss);
  }
  return result;
}

void TransformerSequenceModel::bind_inputs(Executor& executor, const ModelInputs& inputs) const {
  Model::bind_inputs(executor, inputs);
  const Shape& shape = executor.input(kPositions).shape();  // [T, B]
  std::vector<std::int32_t> positions(static_cast<std::size_t>(shape[0] * shape[1]));
  for (std::size_t i = 0; i < positions.size(); ++i)
    positions[i] = static_cast<std::int32_t>(static_cast<std::int64_t>(i) / shape[1]);
  executor.set_input(kPositions, Tensor::from_vector(positions, shape));
}

}  // namespace seqtrain
