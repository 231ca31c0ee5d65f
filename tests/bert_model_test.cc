// The BERT graph (models/bert.h) against independent values: finite
// differences of its loss, the serial backend, a host-side cross-entropy, and
// invariances the math guarantees (padding, evaluation mode). The Hugging Face
// comparison is bert_reference_test.cc.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "bert_test_support.h"
#include "test_support.h"
#include "tasks/mlm_runner.h"

namespace seqtrain::testing {
namespace {

// Every parameter set to random values of a scale where each one visibly moves
// the loss (the default 0.02 initialisation leaves many gradients near zero).
void randomise_parameters(ParameterStore& parameters, std::uint64_t seed) {
  std::uint64_t index = 0;
  for (const auto& parameter : parameters.all()) {
    const Shape& shape = parameter->value.shape();
    const bool gain = parameter->name.ends_with("LayerNorm.weight") ||
                      parameter->name.ends_with("final_layernorm.weight");
    const float scale = gain ? 0.3f : parameter->weight_decay ? 0.15f : 0.2f;
    Tensor value = random_tensor(shape, seed + index++, scale);
    if (gain)
      for (float& v : value.span<float>()) v += 1.0f;
    parameters.set_value(*parameter, value);
  }
}

struct ModelRun {
  float loss = 0.0f;
  Tensor logits;
  std::map<std::string, Tensor> grads;
};

ModelRun run_model(const BertModel& model, ParameterStore& parameters, const MlmBatch& batch,
                   bool training, std::uint64_t step = 1) {
  ModelGraph graph = model.build_graph(mlm_graph_shape(static_cast<int>(batch.batch_size()),
                                      static_cast<int>(batch.sequence_length()),
                                      static_cast<int>(batch.masked_per_sequence())));
  const ValueId logits = graph.output;
  Executor executor(std::move(graph.graph), parameters.backend(), parameters, training);
  model.bind_inputs(executor, mlm_inputs(batch));
  parameters.zero_grads();
  const RunContext context{42, step, training};
  if (training)
    executor.forward_backward(context);
  else
    executor.forward(context);
  ModelRun run;
  run.loss = executor.loss_value();
  run.logits = executor.value_to_host(logits);
  if (training)
    for (const auto& parameter : parameters.all())
      run.grads[parameter->name] = parameters.grad_to_host(*parameter);
  return run;
}

MlmBatch padded_batch(const BertSpec& spec) {
  // Three rows, two padded, one with no masked token at all; P = 3.
  return make_mlm_batch(spec.vocabulary_size, 9, {9, 6, 4}, {3, 2, 0}, 3, 17);
}

TEST(BertModel, RejectsSpecsTheAttentionCannotRun) {
  auto serial = make_serial_backend();
  ParameterStore parameters(*serial);
  BertSpec spec = tiny_bert_spec();
  spec.heads = 3;
  try {
    BertModel model(spec, parameters, 1);
    FAIL() << "hidden 64 with 3 heads was accepted";
  } catch (const ConfigError& error) {
    EXPECT_NE(std::string(error.what()).find("multiple of heads (3)"), std::string::npos)
        << error.what();
  }
  spec.heads = 4;  // d = 16
  try {
    BertModel model(spec, parameters, 1);
    FAIL() << "head dimension 16 was accepted";
  } catch (const ConfigError& error) {
    EXPECT_NE(std::string(error.what()).find("32, 64 or 128"), std::string::npos) << error.what();
  }
  spec = tiny_bert_spec();
  spec.hidden_dropout = 1.0f;
  EXPECT_THROW(BertModel(spec, parameters, 1), ConfigError);
  spec = tiny_bert_spec();
  BertModel model(spec, parameters, 1);
  EXPECT_THROW(model.build_graph(mlm_graph_shape(2, spec.max_positions + 1, 2)), ConfigError);
}

TEST(BertModel, ParametersFollowHuggingFaceNamesAndInitialisation) {
  auto serial = make_serial_backend();
  ParameterStore parameters(*serial);
  BertSpec spec = tiny_bert_spec();
  spec.layers = 1;
  BertModel model(spec, parameters, 5);
  std::vector<std::string> names;
  for (const auto& parameter : parameters.all()) names.push_back(parameter->name);
  const std::vector<std::string> expected = {
      "bert.embeddings.word_embeddings.weight",
      "bert.embeddings.position_embeddings.weight",
      "bert.embeddings.token_type_embeddings.weight",
      "bert.embeddings.LayerNorm.weight",
      "bert.embeddings.LayerNorm.bias",
      "bert.encoder.layer.0.attention.self.qkv.weight",
      "bert.encoder.layer.0.attention.self.qkv.bias",
      "bert.encoder.layer.0.attention.output.dense.weight",
      "bert.encoder.layer.0.attention.output.dense.bias",
      "bert.encoder.layer.0.attention.output.LayerNorm.weight",
      "bert.encoder.layer.0.attention.output.LayerNorm.bias",
      "bert.encoder.layer.0.intermediate.dense.weight",
      "bert.encoder.layer.0.intermediate.dense.bias",
      "bert.encoder.layer.0.output.dense.weight",
      "bert.encoder.layer.0.output.dense.bias",
      "bert.encoder.layer.0.output.LayerNorm.weight",
      "bert.encoder.layer.0.output.LayerNorm.bias",
      "cls.predictions.transform.dense.weight",
      "cls.predictions.transform.dense.bias",
      "cls.predictions.transform.LayerNorm.weight",
      "cls.predictions.transform.LayerNorm.bias",
      "cls.predictions.bias"};
  EXPECT_EQ(names, expected);
  EXPECT_EQ(parameters.get("bert.encoder.layer.0.attention.self.qkv.weight").value.shape(),
            (Shape{192, 64}));

  for (const auto& parameter : parameters.all()) {
    SCOPED_TRACE(parameter->name);
    const std::vector<float> values = parameters.value_to_host(*parameter).to_vector();
    const bool is_bias = parameter->name.ends_with(".bias");
    const bool is_gain = parameter->name.ends_with("LayerNorm.weight");
    EXPECT_EQ(parameter->weight_decay, !is_bias && !is_gain);
    if (is_bias || is_gain) {
      const float expected_value = is_gain ? 1.0f : 0.0f;
      EXPECT_TRUE(
          std::all_of(values.begin(), values.end(), [&](float v) { return v == expected_value; }));
      continue;
    }
    double sum = 0.0, squares = 0.0;
    for (float v : values) {
      sum += v;
      squares += static_cast<double>(v) * v;
    }
    const double n = static_cast<double>(values.size());
    const double stddev = std::sqrt(squares / n - (sum / n) * (sum / n));
    // normal(0, 0.02): the sample deviation of >= 128 draws is within 25%.
    EXPECT_NEAR(stddev, spec.initializer_range, 0.25 * spec.initializer_range);
  }
  // [PAD]'s embedding row starts at zero, as nn.Embedding(padding_idx=0) has it.
  const std::vector<float> word =
      parameters.value_to_host(parameters.get("bert.embeddings.word_embeddings.weight"))
          .to_vector();
  EXPECT_TRUE(std::all_of(word.begin(), word.begin() + spec.hidden_size,
                          [](float v) { return v == 0.0f; }));
}

// Central differences on the serial backend, probing in every parameter its
// largest-gradient element and two random ones. Dropout masks are a pure
// function of (seed, stream, step, element), so each probe draws the same.
void expect_model_gradients_match_finite_differences(const BertSpec& spec) {
  auto serial = make_serial_backend();
  ParameterStore parameters(*serial);
  BertModel model(spec, parameters, 3);
  randomise_parameters(parameters, 100);
  const MlmBatch batch = padded_batch(spec);
  const ModelRun analytic = run_model(model, parameters, batch, true);

  ModelGraph graph = model.build_graph(mlm_graph_shape(3, 9, 3));
  Executor probe(std::move(graph.graph), *serial, parameters, true);
  model.bind_inputs(probe, mlm_inputs(batch));
  const RunContext context{42, 1, true};
  auto loss_at = [&](Parameter& parameter, const Tensor& value) {
    parameters.set_value(parameter, value);
    probe.forward(context);
    return static_cast<double>(probe.loss_value());
  };
  constexpr float kStep = 1e-2f;
  int probes = 0;
  for (const auto& parameter : parameters.all()) {
    const Tensor original = parameters.value_to_host(*parameter);
    const std::vector<float> grad = analytic.grads.at(parameter->name).to_vector();
    std::vector<std::int64_t> elements;
    elements.push_back(
        std::max_element(grad.begin(), grad.end(),
                         [](float a, float b) { return std::abs(a) < std::abs(b); }) -
        grad.begin());
    Rng rng(probes + 1, 9);
    for (int k = 0; k < 2; ++k)
      elements.push_back(static_cast<std::int64_t>(rng.next_below(original.numel())));
    for (std::int64_t element : elements) {
      Tensor plus = original.clone(), minus = original.clone();
      plus.data<float>()[element] += kStep;
      minus.data<float>()[element] -= kStep;
      const double numeric =
          (loss_at(*parameter, plus) - loss_at(*parameter, minus)) / (2.0 * kStep);
      const double actual = grad[static_cast<std::size_t>(element)];
      EXPECT_NEAR(actual, numeric, 3e-4 + 3e-2 * std::abs(numeric))
          << parameter->name << "[" << element << "]";
      ++probes;
    }
    parameters.set_value(*parameter, original);
  }
  EXPECT_GT(probes, 100);
}

TEST(BertModel, PostLayerNormGradientsMatchFiniteDifferences) {
  expect_model_gradients_match_finite_differences(tiny_bert_spec(false, 0.0f));
}

TEST(BertModel, PreLayerNormGradientsMatchFiniteDifferencesWithDropout) {
  expect_model_gradients_match_finite_differences(tiny_bert_spec(true, 0.2f));
}

// The cpu backend against serial: loss, logits and every parameter gradient,
// training with dropout (both backends draw the same Philox masks).
void expect_cpu_matches_serial(const BertSpec& spec) {
  auto serial = make_serial_backend();
  auto cpu = make_cpu_backend(2);
  ParameterStore serial_parameters(*serial), cpu_parameters(*cpu);
  BertModel serial_model(spec, serial_parameters, 11);
  BertModel cpu_model(spec, cpu_parameters, 11);
  randomise_parameters(serial_parameters, 200);
  randomise_parameters(cpu_parameters, 200);
  const MlmBatch batch = padded_batch(spec);
  const ModelRun expected = run_model(serial_model, serial_parameters, batch, true, 4);
  const ModelRun actual = run_model(cpu_model, cpu_parameters, batch, true, 4);
  EXPECT_NEAR(actual.loss, expected.loss, 1e-5 * std::abs(expected.loss));
  EXPECT_TRUE(tensors_close(actual.logits, expected.logits, 1e-4, 1e-4)) << "logits";
  for (const auto& [name, grad] : expected.grads)
    EXPECT_TRUE(tensors_close(actual.grads.at(name), grad, 1e-5, 1e-3)) << name;
}

TEST(BertModel, CpuMatchesSerialPostLayerNorm) {
  expect_cpu_matches_serial(tiny_bert_spec(false, 0.1f));
}

TEST(BertModel, CpuMatchesSerialPreLayerNorm) {
  expect_cpu_matches_serial(tiny_bert_spec(true, 0.1f));
}

// The loss is the mean cross-entropy over used slots, computed here from the
// logits the graph returns; unused slots (label -100) count for nothing.
TEST(BertModel, LossIsMeanCrossEntropyOverUsedSlots) {
  auto cpu = make_cpu_backend(2);
  const BertSpec spec = tiny_bert_spec();
  ParameterStore parameters(*cpu);
  BertModel model(spec, parameters, 2);
  randomise_parameters(parameters, 300);
  const MlmBatch batch = padded_batch(spec);
  const ModelRun run = run_model(model, parameters, batch, false);
  const std::vector<float> logits = run.logits.to_vector();
  const auto labels = batch.masked_labels.span<std::int32_t>();
  const std::int64_t vocabulary = spec.vocabulary_size;
  double total = 0.0;
  std::int64_t used = 0;
  for (std::size_t slot = 0; slot < labels.size(); ++slot) {
    if (labels[slot] == kIgnoreTarget) continue;
    const float* row = logits.data() + slot * vocabulary;
    double max_logit = *std::max_element(row, row + vocabulary), sum = 0.0;
    for (std::int64_t v = 0; v < vocabulary; ++v) sum += std::exp(row[v] - max_logit);
    total += max_logit + std::log(sum) - row[labels[slot]];
    ++used;
  }
  ASSERT_EQ(used, batch.masked_count);
  EXPECT_NEAR(run.loss, total / static_cast<double>(used), 1e-5);
}

TEST(BertModel, DropoutChangesTheLossOnlyWhenTraining) {
  auto cpu = make_cpu_backend(2);
  ParameterStore parameters(*cpu), plain_parameters(*cpu);
  BertModel model(tiny_bert_spec(false, 0.1f), parameters, 6);
  BertModel plain(tiny_bert_spec(false, 0.0f), plain_parameters, 6);
  randomise_parameters(parameters, 400);
  randomise_parameters(plain_parameters, 400);
  const MlmBatch batch = padded_batch(model.spec());

  const ModelRun evaluation = run_model(model, parameters, batch, false);
  const ModelRun without_dropout = run_model(plain, plain_parameters, batch, false);
  EXPECT_EQ(evaluation.loss, without_dropout.loss);
  EXPECT_TRUE(tensors_close(evaluation.logits, without_dropout.logits, 0.0, 0.0));

  const ModelRun step1 = run_model(model, parameters, batch, true, 1);
  const ModelRun step1_again = run_model(model, parameters, batch, true, 1);
  const ModelRun step2 = run_model(model, parameters, batch, true, 2);
  EXPECT_GT(std::abs(step1.loss - evaluation.loss), 1e-4);
  EXPECT_EQ(step1.loss, step1_again.loss);  // masks are a function of (seed, step)
  EXPECT_GT(std::abs(step1.loss - step2.loss), 1e-4);
}

// Every dropout site draws its own Philox stream: the embeddings, and per
// layer the attention probabilities, the attention output and the FFN output.
TEST(BertModel, EveryDropoutSiteHasItsOwnStream) {
  auto serial = make_serial_backend();
  ParameterStore parameters(*serial);
  const BertSpec spec = tiny_bert_spec(false, 0.1f);
  BertModel model(spec, parameters, 1);
  const ModelGraph graph = model.build_graph(mlm_graph_shape(2, 8, 2));
  std::vector<std::uint64_t> streams;
  for (const Node& node : graph.graph.nodes())
    if (node.op == OpKind::dropout || node.op == OpKind::attention) {
      EXPECT_EQ(node.attributes.probability, 0.1f) << node.name;
      streams.push_back(node.attributes.stream);
    }
  EXPECT_EQ(streams.size(), 1u + 3u * spec.layers);
  std::sort(streams.begin(), streams.end());
  EXPECT_EQ(std::adjacent_find(streams.begin(), streams.end()), streams.end());
}

// Tokens past a row's length are masked out of attention: changing them
// changes no logit and no gradient (on either backend).
void expect_padding_ignored(Backend& backend) {
  SCOPED_TRACE(backend.name());
  const BertSpec spec = tiny_bert_spec();
  ParameterStore parameters(backend);
  BertModel model(spec, parameters, 8);
  randomise_parameters(parameters, 500);
  const MlmBatch batch = padded_batch(spec);
  MlmBatch noisy = batch;
  noisy.input_ids = batch.input_ids.clone();
  noisy.token_type_ids = batch.token_type_ids.clone();
  const auto lengths = batch.lengths.span<std::int32_t>();
  const std::int64_t length = batch.sequence_length();
  Rng rng(3, 3);
  int changed = 0;
  for (std::int64_t b = 0; b < batch.batch_size(); ++b)
    for (std::int64_t t = lengths[static_cast<std::size_t>(b)]; t < length; ++t, ++changed) {
      noisy.input_ids.data<std::int32_t>()[b * length + t] =
          static_cast<std::int32_t>(rng.next_below(spec.vocabulary_size));
      noisy.token_type_ids.data<std::int32_t>()[b * length + t] = 1;
    }
  ASSERT_GT(changed, 0);
  const ModelRun clean_run = run_model(model, parameters, batch, true);
  const ModelRun noisy_run = run_model(model, parameters, noisy, true);
  EXPECT_EQ(clean_run.loss, noisy_run.loss);
  EXPECT_TRUE(tensors_close(noisy_run.logits, clean_run.logits, 0.0, 0.0));
  for (const auto& [name, grad] : clean_run.grads) {
    // Only the embedding rows of the padding tokens may see different (zero)
    // contributions; with zero upstream gradient they stay identical too.
    EXPECT_TRUE(tensors_close(noisy_run.grads.at(name), grad, 1e-7, 0.0)) << name;
  }
}

TEST(BertModel, PaddingDoesNotAffectValidPositions) {
  auto serial = make_serial_backend();
  auto cpu = make_cpu_backend(2);
  expect_padding_ignored(*serial);
  expect_padding_ignored(*cpu);
}

}  // namespace
}  // namespace seqtrain::testing
