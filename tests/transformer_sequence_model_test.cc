// The Transformer encoder for the sequence tasks (models/transformer_sequence_model.h)
// against independent values: central differences of its loss on the serial
// backend, the cpu backend against serial (outputs and every gradient, with
// dropout), invariances the math guarantees (tokens past a sequence's length
// change nothing; charlm's causal attention keeps every step's prediction
// from seeing later tokens), and the shapes it refuses.
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "backends/serial/serial_backend.h"
#include "models/transformer_sequence_model.h"
#include "tasks/sequence_runner.h"
#include "test_support.h"

namespace seqtrain::testing {
namespace {

constexpr int kSteps = 5, kBatch = 3;

SequenceModelSpec small_spec(Task task, float dropout = 0.0f) {
  SequenceModelSpec spec;
  spec.task = task;
  spec.type = ModelType::transformer;
  spec.layers = 1;
  spec.hidden_size = 32;  // one head of 32
  spec.heads = 1;
  spec.intermediate_size = 16;
  spec.max_positions = 8;
  spec.dropout = dropout;
  spec.vocabulary_size = 11;
  spec.feature_size = 2;
  spec.output_size = task == Task::adding ? 1 : task == Task::charlm ? 11 : 4;
  return spec;
}

SequenceBatch small_batch(Task task, std::uint64_t seed) {
  SequenceBatch batch;
  batch.lengths = Tensor::from_vector(std::vector<std::int32_t>{5, 3, 1}, {kBatch});
  if (task == Task::adding) {
    batch.features = random_tensor({kSteps, kBatch, 2}, seed);
    batch.targets = random_tensor({kBatch}, seed + 1);
  } else if (task == Task::charlm) {
    // Time-major next-token targets [T, B], ignored past each length.
    batch.tokens = random_ids({kSteps, kBatch}, 11, seed);
    batch.targets = random_ids({kSteps, kBatch}, 11, seed + 1);
    const std::int32_t* lengths = batch.lengths.data<std::int32_t>();
    for (int t = 0; t < kSteps; ++t)
      for (int b = 0; b < kBatch; ++b)
        if (t >= lengths[b]) batch.targets.data<std::int32_t>()[t * kBatch + b] = kIgnoreTarget;
  } else {
    batch.tokens = random_ids({kSteps, kBatch}, 11, seed);
    batch.targets = Tensor::from_vector(std::vector<std::int32_t>{2, 0, 3}, {kBatch});
  }
  return batch;
}

struct ModelRun {
  float loss = 0.0f;
  Tensor output;
  std::map<std::string, Tensor> grads;
};

// One forward (and backward) of the model's training graph on the batch, with
// the parameters given (by name) or as initialised.
ModelRun run_model(Backend& backend, const SequenceModelSpec& spec, const SequenceBatch& batch,
              const std::map<std::string, Tensor>& values = {}) {
  ParameterStore parameters(backend);
  TransformerSequenceModel model(spec, parameters, 7);
  for (const auto& [name, value] : values) parameters.set_value(parameters.get(name), value);
  GraphShape shape;
  shape.batch = kBatch;
  shape.length = kSteps;
  ModelGraph built = model.build_graph(shape);
  const ValueId output = built.output;
  Executor executor(std::move(built.graph), backend, parameters, true);
  model.bind_inputs(executor, sequence_inputs(batch));
  executor.forward_backward(RunContext{11, 2, true});
  ModelRun run;
  run.loss = executor.loss_value();
  run.output = executor.value_to_host(output);
  for (const auto& parameter : parameters.all())
    run.grads[parameter->name] = parameters.grad_to_host(*parameter);
  return run;
}

// Every parameter at a scale where it visibly moves the loss (the 0.02
// initialisation leaves most gradients near zero).
std::map<std::string, Tensor> random_values(const SequenceModelSpec& spec) {
  SerialBackend serial;
  ParameterStore parameters(serial);
  TransformerSequenceModel model(spec, parameters, 7);
  std::map<std::string, Tensor> values;
  std::uint64_t seed = 300;
  for (const std::string& name : model.parameter_names()) {
    const Shape& shape = parameters.get(name).value.shape();
    Tensor value = random_tensor(shape, seed++, 0.3f);
    if (name.ends_with("LayerNorm.weight") || name.ends_with("final_layernorm.weight"))
      for (float& v : value.span<float>()) v += 1.0f;
    values[name] = value;
  }
  return values;
}

TEST(TransformerSequenceModel, GradientsMatchFiniteDifferences) {
  for (Task task : {Task::adding, Task::classification, Task::charlm}) {
    SCOPED_TRACE(task_name(task));
    SerialBackend serial;
    const SequenceModelSpec spec = small_spec(task);
    const SequenceBatch batch = small_batch(task, 21);
    std::map<std::string, Tensor> values = random_values(spec);
    const ModelRun analytic = run_model(serial, spec, batch, values);
    // Eight elements of every parameter (spread over it), by central differences.
    for (const auto& [name, value] : values) {
      const std::int64_t stride = std::max<std::int64_t>(1, value.numel() / 8);
      for (std::int64_t i = 0; i < value.numel(); i += stride) {
        const float step = 1e-2f;
        std::map<std::string, Tensor> probe = values;
        probe[name] = value.clone();
        probe[name].data<float>()[i] += step;
        const double plus = run_model(serial, spec, batch, probe).loss;
        probe[name].data<float>()[i] -= 2 * step;
        const double minus = run_model(serial, spec, batch, probe).loss;
        const double numeric = (plus - minus) / (2.0 * step);
        const double derived = analytic.grads.at(name).data<float>()[i];
        EXPECT_NEAR(derived, numeric, 2e-3 + 2e-2 * std::abs(numeric)) << name << "[" << i << "]";
      }
    }
  }
}

TEST(TransformerSequenceModel, CpuMatchesSerialWithDropout) {
  for (Task task : {Task::adding, Task::classification, Task::charlm}) {
    SCOPED_TRACE(task_name(task));
    SerialBackend serial;
    CpuBackend cpu(2);
    const SequenceModelSpec spec = small_spec(task, 0.1f);
    const SequenceBatch batch = small_batch(task, 22);
    const std::map<std::string, Tensor> values = random_values(spec);
    const ModelRun expected = run_model(serial, spec, batch, values);
    const ModelRun actual = run_model(cpu, spec, batch, values);
    EXPECT_NEAR(actual.loss, expected.loss, 1e-5 + 1e-4 * std::abs(expected.loss));
    EXPECT_TRUE(tensors_close(actual.output, expected.output, 1e-4, 1e-4));
    for (const auto& [name, grad] : expected.grads)
      EXPECT_TRUE(tensors_close(actual.grads.at(name), grad, 1e-4, 1e-3)) << name;
  }
}

// Attention masks keys past each length and the head reads the last valid
// step, so tokens after a sequence's end cannot move its output.
TEST(TransformerSequenceModel, TokensPastASequencesLengthChangeNothing) {
  SerialBackend serial;
  const SequenceModelSpec spec = small_spec(Task::classification);
  const std::map<std::string, Tensor> values = random_values(spec);
  SequenceBatch batch = small_batch(Task::classification, 23);
  const ModelRun before = run_model(serial, spec, batch, values);
  std::int32_t* tokens = batch.tokens.data<std::int32_t>();
  for (int t = 3; t < kSteps; ++t) tokens[t * kBatch + 1] = (tokens[t * kBatch + 1] + 5) % 11;  // row 1: length 3
  for (int t = 1; t < kSteps; ++t) tokens[t * kBatch + 2] = (tokens[t * kBatch + 2] + 3) % 11;  // row 2: length 1
  const ModelRun after = run_model(serial, spec, batch, values);
  EXPECT_TRUE(tensors_close(after.output, before.output, 0.0, 0.0));
  // and a token inside a sequence does move it (the check has teeth).
  tokens[0 * kBatch + 1] = (tokens[0 * kBatch + 1] + 1) % 11;
  const ModelRun changed = run_model(serial, spec, batch, values);
  EXPECT_FALSE(tensors_close(changed.output, before.output, 1e-6, 0.0));
}

// charlm: the logits of step t (rows t * B + b) depend on the tokens at steps
// <= t only. Changing step 3's tokens leaves steps 0 to 2 bit for bit as they
// were and moves step 3's.
TEST(TransformerSequenceModel, CharLmPredictionsDoNotSeeLaterTokens) {
  SerialBackend serial;
  const SequenceModelSpec spec = small_spec(Task::charlm);
  const std::map<std::string, Tensor> values = random_values(spec);
  SequenceBatch batch = small_batch(Task::charlm, 24);
  batch.lengths = Tensor::from_vector(std::vector<std::int32_t>{kSteps, kSteps, kSteps}, {kBatch});
  const ModelRun before = run_model(serial, spec, batch, values);
  constexpr int kChanged = 3;
  for (int b = 0; b < kBatch; ++b) {
    std::int32_t& token = batch.tokens.data<std::int32_t>()[kChanged * kBatch + b];
    token = (token + 4) % 11;
  }
  const ModelRun after = run_model(serial, spec, batch, values);
  const std::int64_t symbols = spec.output_size, earlier = kChanged * kBatch * symbols;
  ASSERT_EQ(before.output.numel(), kSteps * kBatch * symbols);
  for (std::int64_t i = 0; i < earlier; ++i)
    ASSERT_EQ(after.output.data<float>()[i], before.output.data<float>()[i]) << "logit " << i;
  double moved = 0.0;
  for (std::int64_t i = earlier; i < earlier + kBatch * symbols; ++i)
    moved += std::abs(after.output.data<float>()[i] - before.output.data<float>()[i]);
  EXPECT_GT(moved, 1e-3);
}

TEST(TransformerSequenceModel, NamesItsParametersAndRefusesWhatItCannotDo) {
  SerialBackend serial;
  ParameterStore parameters(serial);
  TransformerSequenceModel model(small_spec(Task::adding), parameters, 7);
  const std::vector<std::string>& names = model.parameter_names();
  EXPECT_EQ(names.front(), "input.weight");
  EXPECT_NE(std::find(names.begin(), names.end(), "encoder.layer.0.attention.self.qkv.weight"),
            names.end());
  EXPECT_EQ(names.back(), "head.bias");

  ParameterStore other(serial);
  SequenceModelSpec odd = small_spec(Task::adding);
  odd.heads = 2;  // head dimension 16
  EXPECT_NE(error_message<ConfigError>([&] { TransformerSequenceModel(odd, other, 7); })
                .find("model.heads = 2"),
            std::string::npos);
  GraphShape too_long;
  too_long.batch = 1;
  too_long.length = 9;  // 8 positions
  EXPECT_THROW(model.build_graph(too_long), ConfigError);
}

}  // namespace
}  // namespace seqtrain::testing
