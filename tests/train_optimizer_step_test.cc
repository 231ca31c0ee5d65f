// Gradient accumulation computes what one big batch computes: k micro-batches
// of B rows, run through run_optimizer_step with accumulation k, give the
// gradients, the global norm, the clipping and the update that one batch of
// k*B rows gives with accumulation 1. The micro-batches score different
// numbers of rows (padded characters, masked tokens), so a step that averaged
// the micro-batches' mean losses, or forgot to divide, fails. Checked for SGD
// and AdamW with clipping active, on an LSTM language model and on BERT's
// masked LM, on the serial backend (the oracle) and the cpu backend.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <memory>

#include "backends/cpu/cpu_backend.h"
#include "backends/serial/serial_backend.h"
#include "bert_test_support.h"
#include "models/bert.h"
#include "models/sequence_model.h"
#include "test_support.h"
#include "tasks/mlm_runner.h"
#include "train/optimizer_step.h"
#include "tasks/sequence_runner.h"

namespace seqtrain::testing {
namespace {

constexpr std::int64_t kMicroBatches = 3;
constexpr std::uint64_t kSeed = 29;

// Columns [first, first + count) of a time-major [T, B] i32 tensor.
Tensor columns(const Tensor& tensor, std::int64_t first, std::int64_t count) {
  const std::int64_t steps = tensor.dim(0), width = tensor.dim(1);
  Tensor out = Tensor::empty({steps, count}, DType::i32);
  for (std::int64_t t = 0; t < steps; ++t)
    for (std::int64_t b = 0; b < count; ++b)
      out.data<std::int32_t>()[t * count + b] = tensor.data<std::int32_t>()[t * width + first + b];
  return out;
}

// Elements [first * per_row, (first + count) * per_row) of an i32 tensor read
// as rows of per_row elements, flat; `offset` is added to every element.
Tensor rows(const Tensor& tensor, std::int64_t first, std::int64_t count, std::int64_t per_row,
            std::int32_t offset = 0) {
  Tensor out = Tensor::empty({count * per_row}, DType::i32);
  for (std::int64_t i = 0; i < count * per_row; ++i)
    out.data<std::int32_t>()[i] = tensor.data<std::int32_t>()[first * per_row + i] + offset;
  return out;
}

// ---- an LSTM character language model --------------------------------------------

struct LanguageModelSetup {
  static constexpr int kSteps = 6, kVocabulary = 13;

  std::unique_ptr<Backend> backend;
  ParameterStore parameters;
  RecurrentSequenceModel model;
  SequenceRunner runner;

  explicit LanguageModelSetup(std::unique_ptr<Backend> chosen)
      : backend(std::move(chosen)),
        parameters(*backend),
        model(spec(), parameters, kSeed),
        runner(model, *backend, parameters, false) {}

  static SequenceModelSpec spec() {
    SequenceModelSpec spec;
    spec.task = Task::charlm;
    spec.hidden_size = 10;
    spec.layers = 2;
    spec.vocabulary_size = kVocabulary;
    spec.embedding_size = 7;
    spec.output_size = kVocabulary;
    return spec;
  }

  // B rows of random tokens with these lengths; targets past a length are ignored.
  static SequenceBatch batch(const std::vector<std::int32_t>& lengths) {
    const std::int64_t width = static_cast<std::int64_t>(lengths.size());
    SequenceBatch batch;
    batch.tokens = random_ids({kSteps, width}, kVocabulary, 3);
    batch.targets = random_ids({kSteps, width}, kVocabulary, 4);
    for (std::int64_t t = 0; t < kSteps; ++t)
      for (std::int64_t b = 0; b < width; ++b)
        if (t >= lengths[static_cast<std::size_t>(b)])
          batch.tokens.data<std::int32_t>()[t * width + b] = kPaddingToken,
          batch.targets.data<std::int32_t>()[t * width + b] = kIgnoreTarget;
    batch.lengths = Tensor::from_vector(lengths, {width});
    return batch;
  }

  static SequenceBatch micro_batch(const SequenceBatch& whole, std::int64_t first,
                                   std::int64_t count) {
    SequenceBatch part;
    part.tokens = columns(whole.tokens, first, count);
    part.targets = columns(whole.targets, first, count);
    part.lengths = Tensor::empty({count}, DType::i32);
    for (std::int64_t b = 0; b < count; ++b)
      part.lengths.data<std::int32_t>()[b] = whole.lengths.data<std::int32_t>()[first + b];
    return part;
  }

  TaskMetrics run(const SequenceBatch& batch, const RunContext& context) {
    return runner.train_batch(batch, context);
  }
};

// ---- BERT's masked LM ---------------------------------------------------------------

struct MaskedLmSetup {
  static constexpr std::int64_t kLength = 10, kSlots = 3;

  std::unique_ptr<Backend> backend;
  ParameterStore parameters;
  BertModel model;
  MlmRunner runner;

  explicit MaskedLmSetup(std::unique_ptr<Backend> chosen)
      : backend(std::move(chosen)),
        parameters(*backend),
        model(tiny_bert_spec(), parameters, kSeed),
        runner(model, *backend, parameters) {}

  static MlmBatch batch(const std::vector<std::int32_t>& lengths,
                        const std::vector<std::int32_t>& masked) {
    return make_mlm_batch(tiny_bert_spec().vocabulary_size, kLength, lengths, masked, kSlots, 5);
  }

  // Rows [first, first + count): masked positions are flat indices b*T + t,
  // so they move down by first*T.
  static MlmBatch micro_batch(const MlmBatch& whole, std::int64_t first, std::int64_t count) {
    MlmBatch part;
    part.input_ids = rows(whole.input_ids, first, count, kLength).reshaped({count, kLength});
    part.token_type_ids =
        rows(whole.token_type_ids, first, count, kLength).reshaped({count, kLength});
    part.lengths = rows(whole.lengths, first, count, 1);
    part.masked_positions = rows(whole.masked_positions, first, count, kSlots,
                                 -static_cast<std::int32_t>(first * kLength));
    part.masked_labels = rows(whole.masked_labels, first, count, kSlots);
    for (std::int32_t label : part.masked_labels.span<std::int32_t>())
      part.masked_count += label != kIgnoreTarget;
    return part;
  }

  TaskMetrics run(const MlmBatch& batch, const RunContext& context) {
    return runner.train_batch(batch, context);
  }
};

// ---- the comparison -------------------------------------------------------------------

enum class OptimizerKind { sgd, adamw };

std::unique_ptr<Optimizer> make_optimizer(OptimizerKind kind, ParameterStore& parameters) {
  if (kind == OptimizerKind::sgd)
    return std::make_unique<SgdOptimizer>(parameters,
                                          SgdOptimizerOptions{.momentum = 0.9f, .weight_decay = 0.01f});
  // An epsilon near the gradients' scale: with 1e-8, an element whose
  // gradient is rounding noise (1e-9) moves by a full learning rate either
  // way, and the comparison would measure that noise, not the accumulation.
  return std::make_unique<AdamWOptimizer>(parameters, AdamWOptimizerOptions{.epsilon = 1e-3f});
}

Tensor host_copy(const ParameterStore& parameters, const Tensor& tensor) {
  Tensor host = Tensor::empty(tensor.shape(), tensor.dtype());
  parameters.backend().copy_to_host(tensor, host);
  return host;
}

// Two optimizer steps over the same rows: `whole` as one batch per step, and
// its rows split into kMicroBatches micro-batches per step. After each step
// the global norm, every clipped gradient and every parameter must agree.
template <class Setup, class Batch>
void expect_accumulation_matches_one_batch(const std::function<std::unique_ptr<Backend>()>& backend,
                                           OptimizerKind kind, const Batch& whole,
                                           std::int64_t rows_per_micro_batch, double clip_norm) {
  Setup one(backend()), accumulated(backend());
  std::unique_ptr<Optimizer> one_optimizer = make_optimizer(kind, one.parameters);
  std::unique_ptr<Optimizer> accumulated_optimizer = make_optimizer(kind, accumulated.parameters);
  std::vector<Batch> parts;
  for (std::int64_t part = 0; part < kMicroBatches; ++part)
    parts.push_back(Setup::micro_batch(whole, part * rows_per_micro_batch, rows_per_micro_batch));

  for (std::int64_t step = 1; step <= 2; ++step) {
    const OptimizerStepOptions options{.step = step, .accumulation = 1, .clip_norm = clip_norm,
                                       .learning_rate = 0.05f, .seed = kSeed};
    const OptimizerStepResult single = run_optimizer_step(
        [&](const RunContext& context) { return one.run(whole, context); }, one.parameters,
        *one_optimizer, options);
    std::size_t next = 0;
    OptimizerStepOptions accumulating = options;
    accumulating.accumulation = kMicroBatches;
    const OptimizerStepResult split = run_optimizer_step(
        [&](const RunContext& context) { return accumulated.run(parts.at(next++), context); },
        accumulated.parameters, *accumulated_optimizer, accumulating);

    ASSERT_EQ(split.metrics.rows, single.metrics.rows);
    EXPECT_NEAR(split.metrics.loss_sum, single.metrics.loss_sum, 1e-4 * single.metrics.loss_sum);
    // Clipping must be active for the comparison to cover it.
    EXPECT_GT(single.gradient.norm, clip_norm) << "step " << step;
    EXPECT_NEAR(split.gradient.norm, single.gradient.norm, 1e-5 * single.gradient.norm)
        << "global gradient norm at step " << step;
    for (std::size_t p = 0; p < one.parameters.all().size(); ++p) {
      const Parameter& expected = *one.parameters.all()[p];
      const Parameter& actual = *accumulated.parameters.all()[p];
      EXPECT_TRUE(tensors_close(host_copy(accumulated.parameters, actual.grad),
                                host_copy(one.parameters, expected.grad), 1e-6, 1e-4))
          << "clipped gradient of " << expected.name << " at step " << step;
      EXPECT_TRUE(tensors_close(host_copy(accumulated.parameters, actual.value),
                                host_copy(one.parameters, expected.value), 1e-6, 1e-5))
          << expected.name << " after step " << step;
    }
  }
}

struct AccumulationCase {
  std::string name;
  std::function<std::unique_ptr<Backend>()> backend;
  OptimizerKind optimizer;
};

class GradientAccumulation : public ::testing::TestWithParam<AccumulationCase> {};

TEST_P(GradientAccumulation, LanguageModelMicroBatchesEqualOneBatch) {
  // 3 micro-batches of 2 rows scoring 9, 4 and 11 characters.
  const SequenceBatch whole = LanguageModelSetup::batch({6, 3, 1, 3, 5, 6});
  expect_accumulation_matches_one_batch<LanguageModelSetup>(GetParam().backend,
                                                            GetParam().optimizer, whole, 2, 0.05);
}

TEST_P(GradientAccumulation, MaskedLmMicroBatchesEqualOneBatch) {
  // 3 micro-batches of 2 rows with 4, 1 and 5 masked tokens.
  const MlmBatch whole = MaskedLmSetup::batch({10, 7, 9, 4, 10, 8}, {3, 1, 1, 0, 3, 2});
  expect_accumulation_matches_one_batch<MaskedLmSetup>(GetParam().backend, GetParam().optimizer,
                                                       whole, 2, 0.05);
}

INSTANTIATE_TEST_SUITE_P(
    SgdAndAdamW, GradientAccumulation,
    ::testing::Values(
        AccumulationCase{"SerialSgd", [] { return make_serial_backend(); }, OptimizerKind::sgd},
        AccumulationCase{"SerialAdamW", [] { return make_serial_backend(); }, OptimizerKind::adamw},
        AccumulationCase{"CpuSgd", [] { return make_cpu_backend(2); }, OptimizerKind::sgd},
        AccumulationCase{"CpuAdamW", [] { return make_cpu_backend(2); }, OptimizerKind::adamw}),
    [](const auto& info) { return info.param.name; });

// A non-finite loss or gradient skips the update: weights, optimizer state
// and step count stay as they were, and the result says why.
TEST(OptimizerStep, ANonFiniteLossOrGradientSkipsTheUpdate) {
  std::unique_ptr<Backend> backend = make_serial_backend();
  ParameterStore parameters(*backend);
  Parameter& weight = parameters.add("w", {3}, true);
  parameters.set_value(weight, Tensor::from_vector(std::vector<float>{1, 2, 3}, {3}));
  AdamWOptimizer optimizer(parameters, AdamWOptimizerOptions{});
  const OptimizerStepOptions options{.step = 1, .accumulation = 2, .clip_norm = 1.0,
                                     .learning_rate = 0.1f, .seed = 1};
  auto gradient = [&](float value) {
    backend->copy_from_host(Tensor::from_vector(std::vector<float>(3, value), {3}), weight.grad);
  };

  const OptimizerStepResult nan_loss = run_optimizer_step(
      [&](const RunContext&) {
        gradient(0.5f);
        return TaskMetrics{std::nan(""), 1, 0, 1};
      },
      parameters, optimizer, options);
  EXPECT_EQ(nan_loss.skipped, "the loss is nan");
  const OptimizerStepResult inf_gradient = run_optimizer_step(
      [&](const RunContext&) {
        gradient(std::numeric_limits<float>::infinity());
        return TaskMetrics{1.0, 1, 0, 1};
      },
      parameters, optimizer, options);
  EXPECT_EQ(inf_gradient.skipped, "the gradient of w is not finite");
  EXPECT_EQ(parameters.value_to_host(weight).to_vector(), (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(optimizer.step_count(), 0);

  const OptimizerStepResult applied = run_optimizer_step(
      [&](const RunContext&) {
        gradient(0.5f);
        return TaskMetrics{1.0, 1, 0, 1};
      },
      parameters, optimizer, options);
  EXPECT_TRUE(applied.skipped.empty());
  EXPECT_EQ(optimizer.step_count(), 1);
  EXPECT_NE(parameters.value_to_host(weight).to_vector(), (std::vector<float>{1, 2, 3}));
}

}  // namespace
}  // namespace seqtrain::testing
