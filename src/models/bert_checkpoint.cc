#include "models/bert_checkpoint.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

namespace seqtrain {
namespace {

constexpr const char* kQkvSuffix = "attention.self.qkv.";
constexpr const char* kProjections[] = {"query", "key", "value"};

// "bert.encoder.layer.3.attention.self.qkv.weight" -> position of "qkv.", or npos.
std::size_t qkv_position(const std::string& name) {
  const std::size_t at = name.find(kQkvSuffix);
  return at == std::string::npos ? at : at + std::strlen("attention.self.");
}

// The HF name of projection p for a fused qkv parameter name.
std::string projection_name(const std::string& fused, int projection) {
  const std::size_t at = qkv_position(fused);
  return fused.substr(0, at) + kProjections[projection] + fused.substr(at + std::strlen("qkv"));
}

// Rows [begin, begin + count) of a host tensor's leading axis, as a new tensor.
Tensor leading_rows(const Tensor& x, std::int64_t begin, std::int64_t count) {
  Shape shape = x.shape();
  const std::int64_t row = x.numel() / shape[0];
  shape[0] = count;
  Tensor part = Tensor::empty(shape);
  std::memcpy(part.data<float>(), x.data<float>() + begin * row,
              static_cast<std::size_t>(count * row) * sizeof(float));
  return part;
}

// A float32 host tensor from a checkpoint tensor (float32 or bfloat16).
Tensor checkpoint_tensor(const std::map<std::string, Tensor>& tensors, const std::string& name,
                         const Shape& expected) {
  auto found = tensors.find(name);
  if (found == tensors.end())
    throw CheckpointError(fmt::format(
        "the checkpoint has no tensor '{}', which the model needs; is it a BertForMaskedLM "
        "checkpoint with this config?",
        name));
  const Tensor& tensor = found->second;
  if (tensor.shape() != expected)
    throw CheckpointError(fmt::format(
        "checkpoint tensor '{}' has shape {}, the model expects {}; does config.json match "
        "the weights?",
        name, shape_string(tensor.shape()), shape_string(expected)));
  if (tensor.dtype() == DType::f32) return tensor;
  if (tensor.dtype() != DType::bf16)
    throw CheckpointError(fmt::format("checkpoint tensor '{}' is {}, expected f32 or bf16", name,
                                      dtype_name(tensor.dtype())));
  return Tensor::from_vector(tensor.to_vector(), expected);
}

// A float written as its shortest decimal, so 1e-12f appears as 1e-12 in JSON.
double json_number(float value) {
  return std::stod(fmt::format("{}", value));
}

}  // namespace

std::map<std::string, Tensor> bert_to_hf_tensors(const BertSpec& spec,
                                                 const ParameterStore& parameters) {
  if (spec.pre_layernorm)
    throw ConfigError(
        "a pre-LayerNorm BERT has no Hugging Face BertForMaskedLM counterpart; export a "
        "post-LayerNorm model (pre_layernorm: false)");
  std::map<std::string, Tensor> tensors;
  for (const auto& parameter : parameters.all()) {
    Tensor value = parameters.value_to_host(*parameter);
    if (qkv_position(parameter->name) == std::string::npos) {
      tensors.emplace(parameter->name, std::move(value));
      continue;
    }
    const std::int64_t hidden = value.dim(0) / 3;
    for (int projection = 0; projection < 3; ++projection)
      tensors.emplace(projection_name(parameter->name, projection),
                      leading_rows(value, projection * hidden, hidden));
  }
  return tensors;
}

void bert_from_hf_tensors(const BertSpec& spec, const std::map<std::string, Tensor>& tensors,
                          ParameterStore& parameters) {
  (void)spec;  // the parameters were added for it: their shapes are the spec's
  for (const auto& parameter : parameters.all()) {
    const std::string& name = parameter->name;
    const Shape& shape = parameter->value.shape();
    if (qkv_position(name) != std::string::npos) {
      // Join query, key and value along the rows: the fused layout is q | k | v.
      Shape part_shape = shape;
      part_shape[0] /= 3;
      Tensor joined = Tensor::empty(shape);
      const std::int64_t part_elements = shape_numel(part_shape);
      for (int projection = 0; projection < 3; ++projection) {
        Tensor part = checkpoint_tensor(tensors, projection_name(name, projection), part_shape);
        std::memcpy(joined.data<float>() + projection * part_elements, part.data<float>(),
                    static_cast<std::size_t>(part_elements) * sizeof(float));
      }
      parameters.set_value(*parameter, joined);
      continue;
    }
    std::string source = name;
    // Older exports keep the decoder bias only under the decoder's name.
    if (name == "cls.predictions.bias" && !tensors.contains(name) &&
        tensors.contains("cls.predictions.decoder.bias"))
      source = "cls.predictions.decoder.bias";
    parameters.set_value(*parameter, checkpoint_tensor(tensors, source, shape));
  }
}

std::string bert_hf_config_json(const BertSpec& spec) {
  if (spec.pre_layernorm)
    throw ConfigError(
        "a pre-LayerNorm BERT has no Hugging Face BertForMaskedLM config; export a "
        "post-LayerNorm model (pre_layernorm: false)");
  nlohmann::ordered_json config;
  config["architectures"] = {"BertForMaskedLM"};
  config["model_type"] = "bert";
  config["vocab_size"] = spec.vocabulary_size;
  config["hidden_size"] = spec.hidden_size;
  config["num_hidden_layers"] = spec.layers;
  config["num_attention_heads"] = spec.heads;
  config["intermediate_size"] = spec.intermediate_size;
  config["hidden_act"] = "gelu";
  config["hidden_dropout_prob"] = json_number(spec.hidden_dropout);
  config["attention_probs_dropout_prob"] = json_number(spec.attention_dropout);
  config["max_position_embeddings"] = spec.max_positions;
  config["type_vocab_size"] = spec.type_vocabulary_size;
  config["initializer_range"] = json_number(spec.initializer_range);
  config["layer_norm_eps"] = json_number(spec.layer_norm_epsilon);
  config["pad_token_id"] = 0;
  config["position_embedding_type"] = "absolute";
  config["tie_word_embeddings"] = true;
  return config.dump(2) + "\n";
}

BertSpec bert_spec_from_hf_config(const std::filesystem::path& config_json) {
  const std::string where = config_json.string();
  std::ifstream file(config_json);
  if (!file)
    throw ConfigError(
        fmt::format("cannot read {}: a Hugging Face checkpoint directory needs a "
                    "config.json beside model.safetensors",
                    where));
  std::stringstream text;
  text << file.rdbuf();
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::parse_error& error) {
    throw ConfigError(fmt::format("{} is not valid JSON: {}", where, error.what()));
  }
  if (!config.is_object()) throw ConfigError(fmt::format("{} is not a JSON object", where));

  auto integer = [&](const char* key, std::optional<int> fallback) -> int {
    if (!config.contains(key)) {
      if (fallback) return *fallback;
      throw ConfigError(fmt::format("{}: missing key '{}' (an integer)", where, key));
    }
    const auto& value = config.at(key);
    if (!value.is_number_integer() || value.get<std::int64_t>() < 1 ||
        value.get<std::int64_t>() > (1 << 30))
      throw ConfigError(
          fmt::format("{}: '{}' is {}, expected a positive integer", where, key, value.dump()));
    return value.get<int>();
  };
  auto number = [&](const char* key, float fallback) -> float {
    if (!config.contains(key) || config.at(key).is_null()) return fallback;
    const auto& value = config.at(key);
    if (!value.is_number())
      throw ConfigError(fmt::format("{}: '{}' is {}, expected a number", where, key, value.dump()));
    return value.get<float>();
  };
  auto expect_string = [&](const char* key, const char* expected, bool required) {
    if (!config.contains(key)) {
      if (required)
        throw ConfigError(
            fmt::format("{}: missing key '{}' (expected \"{}\")", where, key, expected));
      return;
    }
    const auto& value = config.at(key);
    if (!value.is_string() || value.get<std::string>() != expected)
      throw ConfigError(fmt::format("{}: '{}' is {}; seqtrain supports only \"{}\"", where, key,
                                    value.dump(), expected));
  };
  expect_string("model_type", "bert", true);
  expect_string("hidden_act", "gelu", false);
  expect_string("position_embedding_type", "absolute", false);

  BertSpec spec;
  spec.vocabulary_size = integer("vocab_size", std::nullopt);
  spec.hidden_size = integer("hidden_size", std::nullopt);
  spec.layers = integer("num_hidden_layers", std::nullopt);
  spec.heads = integer("num_attention_heads", std::nullopt);
  spec.intermediate_size = integer("intermediate_size", std::nullopt);
  spec.max_positions = integer("max_position_embeddings", std::nullopt);
  // Defaults are BertConfig's.
  spec.type_vocabulary_size = integer("type_vocab_size", 2);
  spec.hidden_dropout = number("hidden_dropout_prob", 0.1f);
  spec.attention_dropout = number("attention_probs_dropout_prob", 0.1f);
  spec.layer_norm_epsilon = number("layer_norm_eps", 1e-12f);
  spec.initializer_range = number("initializer_range", 0.02f);
  spec.pre_layernorm = false;
  return spec;
}

}  // namespace seqtrain
