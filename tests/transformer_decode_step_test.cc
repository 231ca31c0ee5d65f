// The key/value-cache decoding step (models/transformer_decode_step.h)
// against the causal Transformer's own graph: feeding a sequence token by
// token, each step carrying the grown cache to the next, gives at every
// prefix length P the logits the model's graph of P steps gives at its last
// position (the re-encoding path `seqtrain generate` and `bench latency` use).
// On serial and cpu, with one and two heads and two layers.
#include "models/transformer_decode_step.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "models/sequence_model.h"
#include "test_support.h"

namespace seqtrain::testing {
namespace {

constexpr int kBatch = 3, kSteps = 6, kVocabulary = 11;

SequenceModelSpec charlm_spec(int hidden, int heads) {
  SequenceModelSpec spec;
  spec.task = Task::charlm;
  spec.type = ModelType::transformer;
  spec.layers = 2;
  spec.hidden_size = hidden;
  spec.heads = heads;
  spec.intermediate_size = 24;
  spec.max_positions = 8;
  spec.vocabulary_size = kVocabulary;
  spec.output_size = kVocabulary;
  return spec;
}

// Rows (P - 1) * B .. P * B - 1 of the model's logits for the first P tokens.
Tensor reencoded_last_logits(const SequenceModel& model, Backend& backend,
                             ParameterStore& parameters, const Tensor& tokens, int prefix) {
  GraphShape shape;
  shape.batch = kBatch;
  shape.length = prefix;
  shape.with_targets = false;
  ModelGraph built = model.build_graph(shape);
  Executor executor(std::move(built.graph), backend, parameters, false);
  std::vector<std::int32_t> ids(tokens.data<std::int32_t>(),
                                tokens.data<std::int32_t>() + prefix * kBatch);
  model.bind_inputs(executor,
                    {{model_io::kTokens, Tensor::from_vector(ids, {prefix, kBatch})},
                     {model_io::kLengths,
                      Tensor::from_vector(std::vector<std::int32_t>(kBatch, prefix), {kBatch})}});
  executor.forward(RunContext{1, 0, false});
  const Tensor logits = executor.value_to_host(built.output);
  std::vector<float> last(logits.data<float>() + (prefix - 1) * kBatch * kVocabulary,
                          logits.data<float>() + prefix * kBatch * kVocabulary);
  return Tensor::from_vector(last, {kBatch, kVocabulary});
}

void expect_cached_decoding_matches_reencoding(Backend& backend, int hidden, int heads) {
  const SequenceModelSpec spec = charlm_spec(hidden, heads);
  ParameterStore parameters(backend);
  const std::unique_ptr<SequenceModel> model = make_sequence_model(spec, parameters, 3);
  // Weights far from their initialisation (normal 0.02), so attention's
  // probabilities differ from uniform and a wrong cache shows.
  std::uint64_t seed = 100;
  for (const auto& parameter : parameters.all())
    parameters.set_value(*parameter, random_tensor(parameter->value.shape(), seed++, 0.5f));
  const Tensor tokens = random_ids({kSteps, kBatch}, kVocabulary, 9);
  std::vector<Tensor> cache;  // per layer keys, values: [B * heads, d, P - 1]
  for (int prefix = 1; prefix <= kSteps; ++prefix) {
    DecodeStepGraph built = build_transformer_decode_step(spec, kBatch, prefix - 1);
    const DecodeStepGraph ids{{}, built.logits, built.keys, built.values};
    Executor executor(std::move(built.graph), backend, parameters, false);
    std::vector<std::int32_t> step(tokens.data<std::int32_t>() + (prefix - 1) * kBatch,
                                   tokens.data<std::int32_t>() + prefix * kBatch);
    executor.set_input(model_io::kTokens, Tensor::from_vector(step, {1, kBatch}));
    executor.set_input(
        kDecodePosition,
        Tensor::from_vector(std::vector<std::int32_t>(kBatch, prefix - 1), {1, kBatch}));
    for (int layer = 0; prefix > 1 && layer < spec.layers; ++layer) {
      executor.set_input(decode_cache_input(layer, true), cache[2 * layer]);
      executor.set_input(decode_cache_input(layer, false), cache[2 * layer + 1]);
    }
    executor.forward(RunContext{1, 0, false});
    EXPECT_TRUE(tensors_close(executor.value_to_host(ids.logits),
                              reencoded_last_logits(*model, backend, parameters, tokens, prefix),
                              1e-4, 1e-4))
        << backend.name() << " hidden " << hidden << " heads " << heads << ", prefix " << prefix;
    cache.clear();
    for (int layer = 0; layer < spec.layers; ++layer) {
      cache.push_back(executor.value_to_host(ids.keys[layer]));
      cache.push_back(executor.value_to_host(ids.values[layer]));
    }
  }
}

TEST(TransformerDecodeStep, CachedDecodingGivesTheReencodedLastPositionOnSerial) {
  auto backend = make_serial_backend();
  expect_cached_decoding_matches_reencoding(*backend, 32, 1);
  expect_cached_decoding_matches_reencoding(*backend, 64, 2);
}

TEST(TransformerDecodeStep, CachedDecodingGivesTheReencodedLastPositionOnCpu) {
  auto backend = make_cpu_backend(2);
  expect_cached_decoding_matches_reencoding(*backend, 32, 1);
  expect_cached_decoding_matches_reencoding(*backend, 64, 2);
}

TEST(TransformerDecodeStep, APrefixLongerThanThePositionsIsRefused) {
  EXPECT_THROW(build_transformer_decode_step(charlm_spec(32, 1), kBatch, 8), ConfigError);
}

}  // namespace
}  // namespace seqtrain::testing
