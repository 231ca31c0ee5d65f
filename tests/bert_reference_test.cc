// The BERT model against Hugging Face's BertForMaskedLM. scripts/make_reference.py
// wrote tests/fixtures/bert_reference.safetensors (a small random model, a
// padded batch with masked positions, HF's logits at those positions, its loss
// and every parameter gradient, computed in float64 and stored as float32).
// Here the config is read with bert_spec_from_hf_config, the weights are
// mapped with bert_from_hf_tensors, the graph runs on serial and cpu, and the
// gradients are mapped back with bert_to_hf_tensors (Q, K and V split from
// the fused parameter) to be compared tensor by tensor.
//
// The export test writes a seqtrain model as a Hugging Face checkpoint
// (model.safetensors + config.json) with seqtrain's logits beside it
// (seqtrain_logits.safetensors) and reads it back. With SEQTRAIN_HF_EXPORT_DIR
// set, it writes there, for scripts/check_hf_checkpoint.py to load in
// transformers.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "models/bert_checkpoint.h"
#include "test_directory.h"
#include "test_support.h"
#include "tasks/mlm_runner.h"

namespace seqtrain::testing {
namespace {

struct Fixture {
  SafetensorsContents contents;
  BertSpec spec;
  MlmBatch batch;

  const Tensor& tensor(const std::string& name) const {
    auto found = contents.tensors.find(name);
    if (found == contents.tensors.end())
      throw std::runtime_error("fixture has no tensor '" + name + "'");
    return found->second;
  }
};

// The spec comes from HF's own config.json, through the reader users get.
BertSpec spec_from_config_text(const std::string& config_text) {
  TestDirectory directory;
  return bert_spec_from_hf_config(directory.write("config.json", config_text));
}

Fixture load_fixture() {
  Fixture fixture;
  fixture.contents =
      read_safetensors(std::string(SEQTRAIN_FIXTURES) + "/bert_reference.safetensors");
  fixture.spec = spec_from_config_text(fixture.contents.metadata.at("config"));
  MlmBatch& batch = fixture.batch;
  batch.input_ids = fixture.tensor("input.input_ids");
  batch.token_type_ids = fixture.tensor("input.token_type_ids");
  batch.lengths = fixture.tensor("input.lengths");
  batch.masked_positions = fixture.tensor("input.masked_positions");
  batch.masked_labels = fixture.tensor("input.masked_labels");
  for (std::int32_t label : batch.masked_labels.span<std::int32_t>())
    batch.masked_count += label != -100 ? 1 : 0;
  return fixture;
}

// Per tensor: |actual - expected| <= kScaled * max|expected| + kFloor + kRelative * |expected|.
// The reference is float64; seqtrain computes in float32, where a sum over
// 64-96 terms of values near the tensor's largest carries a few ulp of it.
// kFloor covers the key biases, whose gradient is zero in exact arithmetic
// (softmax ignores a shift of all of a query's scores by q . b_k): float32
// leaves ~1e-8 there, float64 ~1e-17.
constexpr double kScaled = 2e-5;
constexpr double kFloor = 2e-7;
constexpr double kRelative = 1e-4;

// The worst element over all comparisons, relative to its tensor's largest |value|.
struct Worst {
  double error = 0.0;
  std::string where;
};

void compare(const std::string& name, const Tensor& actual, const Tensor& expected, Worst& worst) {
  ASSERT_EQ(actual.shape(), expected.shape()) << name;
  const std::vector<float> a = actual.to_vector(), e = expected.to_vector();
  double largest = 0.0, largest_error = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    largest = std::max(largest, static_cast<double>(std::abs(e[i])));
    largest_error = std::max(largest_error, std::abs(static_cast<double>(a[i]) - e[i]));
  }
  EXPECT_TRUE(tensors_close(actual, expected, kScaled * largest + kFloor, kRelative)) << name;
  if (std::getenv("SEQTRAIN_REFERENCE_VERBOSE") != nullptr)
    std::printf("  %-60s max|ref| %.3g max|error| %.3g\n", name.c_str(), largest, largest_error);
  if (largest > kFloor && largest_error / largest > worst.error)
    worst = {largest_error / largest, name};
}

void expect_model_matches_hugging_face(Backend& backend) {
  SCOPED_TRACE(backend.name());
  const Fixture fixture = load_fixture();
  const BertSpec& spec = fixture.spec;
  EXPECT_EQ(spec.hidden_dropout, 0.0f);
  EXPECT_EQ(spec.attention_dropout, 0.0f);

  ParameterStore parameters(backend);
  BertModel model(spec, parameters, 1);
  bert_from_hf_tensors(spec, fixture.contents.tensors, parameters);

  const MlmBatch& batch = fixture.batch;
  ModelGraph graph = model.build_graph(mlm_graph_shape(static_cast<int>(batch.batch_size()),
                                      static_cast<int>(batch.sequence_length()),
                                      static_cast<int>(batch.masked_per_sequence())));
  const ValueId logits = graph.output;
  Executor executor(std::move(graph.graph), backend, parameters, /*training=*/true);
  model.bind_inputs(executor, mlm_inputs(batch));
  parameters.zero_grads();
  executor.forward_backward(RunContext{1, 1, true});

  Worst worst;
  compare("logits", executor.value_to_host(logits), fixture.tensor("logits"), worst);
  compare("loss", executor.value_to_host(executor.graph().loss()), fixture.tensor("loss"), worst);

  // The gradients under HF's names: a store of the same model holding the
  // gradients as values, exported like a checkpoint.
  auto serial = make_serial_backend();
  ParameterStore gradients(*serial);
  BertModel gradient_model(spec, gradients, 1);
  for (const auto& parameter : parameters.all())
    gradients.set_value(gradients.get(parameter->name), parameters.grad_to_host(*parameter));
  const std::map<std::string, Tensor> hf_gradients = bert_to_hf_tensors(spec, gradients);
  int compared = 0;
  for (const auto& [name, expected] : fixture.contents.tensors) {
    if (!name.starts_with("grad.")) continue;
    const std::string parameter = name.substr(5);
    auto found = hf_gradients.find(parameter);
    ASSERT_NE(found, hf_gradients.end()) << "seqtrain has no gradient for HF's " << parameter;
    compare(name, found->second, expected, worst);
    ++compared;
  }
  EXPECT_EQ(compared, static_cast<int>(hf_gradients.size()));
  std::printf("[ reference] BERT on %s: %d gradients; worst max|error| / max|ref| %.3g (%s)\n",
              backend.name().c_str(), compared, worst.error, worst.where.c_str());
}

TEST(BertReference, SerialMatchesHuggingFace) {
  auto serial = make_serial_backend();
  expect_model_matches_hugging_face(*serial);
}

TEST(BertReference, CpuMatchesHuggingFace) {
  auto cpu = make_cpu_backend(2);
  expect_model_matches_hugging_face(*cpu);
}

// Logits of a model on the fixture's batch, evaluation mode.
Tensor evaluation_logits(const BertModel& model, ParameterStore& parameters, const MlmBatch& batch,
                         float* loss) {
  ModelGraph graph = model.build_graph(mlm_graph_shape(static_cast<int>(batch.batch_size()),
                                      static_cast<int>(batch.sequence_length()),
                                      static_cast<int>(batch.masked_per_sequence())));
  const ValueId logits = graph.output;
  Executor executor(std::move(graph.graph), parameters.backend(), parameters, false);
  model.bind_inputs(executor, mlm_inputs(batch));
  executor.forward(RunContext{1, 1, false});
  *loss = executor.loss_value();
  return executor.value_to_host(logits);
}

// A seqtrain-initialised model (weights spread wider than BERT's 0.02 so that
// a misplaced tensor shows in the logits) exported in HF's format and read
// back; the export directory is what scripts/check_hf_checkpoint.py loads.
TEST(BertReference, ExportedCheckpointReadsBackToTheSameModel) {
  const Fixture fixture = load_fixture();
  BertSpec spec = fixture.spec;
  spec.initializer_range = 0.2f;
  auto cpu = make_cpu_backend(2);
  ParameterStore parameters(*cpu);
  BertModel model(spec, parameters, 2024);
  Rng rng(2024, 77);
  for (const auto& parameter : parameters.all())
    if (!parameter->weight_decay)  // biases and LayerNorm parameters, away from 0 and 1
      parameters.set_value(*parameter, [&] {
        Tensor value = parameters.value_to_host(*parameter);
        for (float& v : value.span<float>()) v += 0.2f * (2.0f * rng.next_uniform() - 1.0f);
        return value;
      }());
  float loss = 0.0f;
  const Tensor logits = evaluation_logits(model, parameters, fixture.batch, &loss);

  TestDirectory scratch;
  const char* requested = std::getenv("SEQTRAIN_HF_EXPORT_DIR");
  const std::filesystem::path directory = requested != nullptr && *requested != '\0'
                                              ? std::filesystem::path(requested)
                                              : scratch.root();
  std::filesystem::create_directories(directory);
  std::vector<NamedTensor> weights;
  for (auto& [name, tensor] : bert_to_hf_tensors(spec, parameters))
    weights.push_back({name, tensor});
  write_safetensors(directory / "model.safetensors", weights, {{"format", "pt"}});
  std::ofstream(directory / "config.json") << bert_hf_config_json(spec);
  const MlmBatch& batch = fixture.batch;
  write_safetensors(directory / "seqtrain_logits.safetensors",
                    {{"input_ids", batch.input_ids},
                     {"token_type_ids", batch.token_type_ids},
                     {"lengths", batch.lengths},
                     {"masked_positions", batch.masked_positions},
                     {"masked_labels", batch.masked_labels},
                     {"logits", logits},
                     {"loss", Tensor::from_vector(std::vector<float>{loss}, {1})}},
                    {{"written_by", "tests/bert_reference_test.cc"}});
  if (requested != nullptr)
    std::printf(
        "[ export   ] wrote %s (model.safetensors, config.json, seqtrain_logits.safetensors)\n",
        directory.c_str());

  const BertSpec read_spec = bert_spec_from_hf_config(directory / "config.json");
  EXPECT_EQ(read_spec, spec);
  ParameterStore loaded(*cpu);
  BertModel loaded_model(read_spec, loaded, 1);
  bert_from_hf_tensors(read_spec, read_safetensors(directory / "model.safetensors").tensors,
                       loaded);
  for (const auto& parameter : parameters.all())
    EXPECT_TRUE(tensors_close(loaded.value_to_host(loaded.get(parameter->name)),
                              parameters.value_to_host(*parameter), 0.0, 0.0))
        << parameter->name;
  float loaded_loss = 0.0f;
  EXPECT_TRUE(tensors_close(evaluation_logits(loaded_model, loaded, batch, &loaded_loss), logits,
                            0.0, 0.0));
  EXPECT_EQ(loaded_loss, loss);
}

}  // namespace
}  // namespace seqtrain::testing
