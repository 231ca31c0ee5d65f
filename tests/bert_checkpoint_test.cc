// Hugging Face BertForMaskedLM tensors and config.json (models/bert_checkpoint.h):
// the fused QKV split and joined, HF's names, and one clear error per bad input.
// That the files load in transformers is bert_reference_test.cc's and
// scripts/check_hf_checkpoint.py's part.
#include "models/bert_checkpoint.h"

#include <cstring>
#include <string>

#include "bert_test_support.h"
#include "test_directory.h"
#include "test_support.h"

namespace seqtrain::testing {
namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(BertCheckpoint, SplitsQkvIntoHuggingFaceNamesAndJoinsThemBack) {
  auto serial = make_serial_backend();
  const BertSpec spec = tiny_bert_spec();
  ParameterStore parameters(*serial);
  BertModel model(spec, parameters, 9);
  const auto tensors = bert_to_hf_tensors(spec, parameters);

  const Tensor fused =
      parameters.value_to_host(parameters.get("bert.encoder.layer.1.attention.self.qkv.weight"));
  const Tensor fused_bias =
      parameters.value_to_host(parameters.get("bert.encoder.layer.1.attention.self.qkv.bias"));
  const char* projections[] = {"query", "key", "value"};
  const std::int64_t hidden = spec.hidden_size;
  for (int p = 0; p < 3; ++p) {
    const std::string prefix = std::string("bert.encoder.layer.1.attention.self.") + projections[p];
    const Tensor& weight = tensors.at(prefix + ".weight");
    const Tensor& bias = tensors.at(prefix + ".bias");
    ASSERT_EQ(weight.shape(), (Shape{hidden, hidden}));
    ASSERT_EQ(bias.shape(), (Shape{hidden}));
    EXPECT_EQ(std::memcmp(weight.data<float>(), fused.data<float>() + p * hidden * hidden,
                          weight.bytes()),
              0)
        << projections[p];
    EXPECT_EQ(std::memcmp(bias.data<float>(), fused_bias.data<float>() + p * hidden, bias.bytes()),
              0);
  }
  for (const auto& [name, tensor] : tensors) EXPECT_FALSE(contains(name, "qkv")) << name;
  // One tensor per HF parameter: 5 embedding, 16 per layer, 5 in the head.
  EXPECT_EQ(tensors.size(), 5u + 16u * spec.layers + 5u);
  EXPECT_TRUE(tensors.contains("cls.predictions.bias"));

  ParameterStore loaded(*serial);
  BertModel loaded_model(spec, loaded, 1);
  bert_from_hf_tensors(spec, tensors, loaded);
  for (const auto& parameter : parameters.all())
    EXPECT_TRUE(tensors_close(loaded.value_to_host(loaded.get(parameter->name)),
                              parameters.value_to_host(*parameter), 0.0, 0.0))
        << parameter->name;
}

TEST(BertCheckpoint, ReadsTheDecoderBiasUnderItsOlderName) {
  auto serial = make_serial_backend();
  const BertSpec spec = tiny_bert_spec();
  ParameterStore parameters(*serial);
  BertModel model(spec, parameters, 9);
  auto tensors = bert_to_hf_tensors(spec, parameters);
  Tensor bias = random_tensor({spec.vocabulary_size}, 4);
  tensors.erase("cls.predictions.bias");
  tensors["cls.predictions.decoder.bias"] = bias;
  tensors["bert.pooler.dense.weight"] = random_tensor({3, 3}, 5);  // unused: ignored
  bert_from_hf_tensors(spec, tensors, parameters);
  EXPECT_TRUE(tensors_close(parameters.value_to_host(parameters.get("cls.predictions.bias")), bias,
                            0.0, 0.0));
}

TEST(BertCheckpoint, MissingOrMisshapenTensorsNameTheTensor) {
  auto serial = make_serial_backend();
  const BertSpec spec = tiny_bert_spec();
  ParameterStore parameters(*serial);
  BertModel model(spec, parameters, 9);
  auto tensors = bert_to_hf_tensors(spec, parameters);

  auto missing = tensors;
  missing.erase("bert.encoder.layer.0.attention.self.key.weight");
  std::string message =
      error_message<CheckpointError>([&] { bert_from_hf_tensors(spec, missing, parameters); });
  EXPECT_TRUE(contains(message, "no tensor 'bert.encoder.layer.0.attention.self.key.weight'"))
      << message;

  auto misshapen = tensors;
  misshapen["bert.embeddings.word_embeddings.weight"] = random_tensor({7, spec.hidden_size}, 1);
  message =
      error_message<CheckpointError>([&] { bert_from_hf_tensors(spec, misshapen, parameters); });
  EXPECT_TRUE(contains(message, "'bert.embeddings.word_embeddings.weight' has shape [7, 64]"))
      << message;
  EXPECT_TRUE(contains(message, "expects [23, 64]")) << message;

  auto integer = tensors;
  integer["cls.predictions.bias"] = Tensor::zeros({spec.vocabulary_size}, DType::i32);
  message =
      error_message<CheckpointError>([&] { bert_from_hf_tensors(spec, integer, parameters); });
  EXPECT_TRUE(contains(message, "'cls.predictions.bias' is i32")) << message;
}

TEST(BertCheckpoint, PreLayerNormModelsHaveNoHuggingFaceForm) {
  auto serial = make_serial_backend();
  const BertSpec spec = tiny_bert_spec(true);
  ParameterStore parameters(*serial);
  BertModel model(spec, parameters, 9);
  EXPECT_TRUE(contains(error_message<ConfigError>([&] { bert_to_hf_tensors(spec, parameters); }),
                       "pre-LayerNorm"));
  EXPECT_THROW(bert_hf_config_json(spec), ConfigError);
}

TEST(BertCheckpoint, ConfigJsonRoundTrips) {
  BertSpec spec = tiny_bert_spec();
  spec.hidden_dropout = 0.1f;
  spec.attention_dropout = 0.05f;
  spec.type_vocabulary_size = 3;
  TestDirectory directory;
  const std::string text = bert_hf_config_json(spec);
  EXPECT_TRUE(contains(text, "\"layer_norm_eps\": 1e-12")) << text;
  EXPECT_TRUE(contains(text, "\"architectures\": [\n    \"BertForMaskedLM\"")) << text;
  EXPECT_EQ(bert_spec_from_hf_config(directory.write("config.json", text)), spec);
}

TEST(BertCheckpoint, ConfigDefaultsAreBertConfigs) {
  TestDirectory directory;
  const BertSpec spec = bert_spec_from_hf_config(directory.write(
      "config.json",
      R"({"model_type": "bert", "vocab_size": 100, "hidden_size": 128, "num_hidden_layers": 2,
          "num_attention_heads": 2, "intermediate_size": 512, "max_position_embeddings": 64})"));
  EXPECT_EQ(spec.type_vocabulary_size, 2);
  EXPECT_EQ(spec.hidden_dropout, 0.1f);
  EXPECT_EQ(spec.attention_dropout, 0.1f);
  EXPECT_EQ(spec.layer_norm_epsilon, 1e-12f);
  EXPECT_EQ(spec.initializer_range, 0.02f);
  EXPECT_FALSE(spec.pre_layernorm);
}

TEST(BertCheckpoint, BadConfigsAreOneLineErrorsNamingTheKey) {
  TestDirectory directory;
  const std::string base =
      R"("vocab_size": 100, "hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2,
         "intermediate_size": 512, "max_position_embeddings": 64)";
  auto read = [&](const std::string& text) {
    return error_message<ConfigError>(
        [&] { bert_spec_from_hf_config(directory.write("config.json", text)); });
  };
  EXPECT_TRUE(contains(read(R"({"model_type": "roberta", )" + base + "}"),
                       "'model_type' is \"roberta\"; seqtrain supports only \"bert\""));
  EXPECT_TRUE(contains(read(R"({"model_type": "bert", "hidden_act": "relu", )" + base + "}"),
                       "'hidden_act' is \"relu\""));
  EXPECT_TRUE(contains(
      read(R"({"model_type": "bert", "position_embedding_type": "relative_key", )" + base + "}"),
      "'position_embedding_type'"));
  EXPECT_TRUE(
      contains(read(R"({"model_type": "bert", "hidden_size": 64})"), "missing key 'vocab_size'"));
  EXPECT_TRUE(contains(read(R"({"model_type": "bert", "vocab_size": "many", )" +
                            base.substr(base.find("\"hidden_size\"")) + "}"),
                       "'vocab_size' is \"many\", expected a positive integer"));
  EXPECT_TRUE(contains(read(R"({"model_type": "bert", "layer_norm_eps": "small", )" + base + "}"),
                       "'layer_norm_eps' is \"small\", expected a number"));
  EXPECT_TRUE(contains(read("{not json"), "is not valid JSON"));
  EXPECT_TRUE(contains(error_message<ConfigError>(
                           [&] { bert_spec_from_hf_config(directory.root() / "absent.json"); }),
                       "cannot read"));
}

}  // namespace
}  // namespace seqtrain::testing
