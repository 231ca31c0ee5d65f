// Short training runs for the mixed-precision tests (training.precision bf16)
// on any backend: the losses of each step, to hold a bf16 run against the fp32
// run of the same backend (cpu: precision_test.cc; the emulated device:
// kernels_cuda_backend_test.cc). Both end with expect_bf16_tracks_fp32.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "bert_test_support.h"
#include "data/adding_problem.h"
#include "models/bert.h"
#include "models/sequence_model.h"
#include "seqtrain/executor.h"
#include "seqtrain/parameters.h"
#include "tasks/mlm_runner.h"
#include "tasks/sequence_runner.h"
#include "test_support.h"
#include "train/grad_clip.h"
#include "train/optimizer.h"

namespace seqtrain::testing {

// Losses of each step of a short adding-problem run and the final parameters.
struct AddingTrace {
  std::vector<double> losses;
  std::map<std::string, Tensor> parameters;
};

// An LSTM (hidden 16), or a one-layer Transformer (hidden 32, one head), on
// the adding problem (T 20, B 8): AdamW at 1e-2 with global-norm clipping at
// 1, one fresh batch per step, as src/train/trainer.cc drives them.
inline AddingTrace train_adding(Backend& backend, Precision precision, int steps,
                                ModelType type = ModelType::lstm) {
  backend.set_gemm_precision(precision);
  ParameterStore parameters(backend);
  SequenceModelSpec spec;
  spec.task = Task::adding;
  spec.type = type;
  spec.hidden_size = type == ModelType::transformer ? 32 : 16;
  spec.heads = 1;
  spec.intermediate_size = 64;
  spec.max_positions = 20;
  spec.feature_size = static_cast<int>(AddingProblem::kFeatureCount);
  spec.output_size = 1;
  std::unique_ptr<SequenceModel> made = make_sequence_model(spec, parameters, 17);
  SequenceModel& model = *made;
  AdamWOptimizer optimizer(parameters, AdamWOptimizerOptions{});
  SequenceRunner runner(model, backend, parameters, false);
  AddingProblem data({.sequence_length = 20, .batch_size = 8, .seed = 5, .validation_examples = 0});
  AddingTrace trace;
  for (int step = 1; step <= steps; ++step) {
    parameters.zero_grads();
    const RunContext context{17, static_cast<std::uint64_t>(step - 1), true};
    trace.losses.push_back(runner.train_batch(data.next_training_batch(), context).mean_loss());
    EXPECT_TRUE(clip_gradients_by_global_norm(parameters, 1.0).finite);
    optimizer.step(1e-2f);
  }
  for (const auto& parameter : parameters.all())
    trace.parameters[parameter->name] = parameters.value_to_host(*parameter);
  backend.set_gemm_precision(Precision::fp32);
  return trace;
}

inline std::vector<double> adding_losses(Backend& backend, Precision precision, int steps,
                                         ModelType type = ModelType::lstm) {
  return train_adding(backend, precision, steps, type).losses;
}

// A one-layer BERT (hidden 64, 2 heads of 32 unless told, vocabulary 40, T
// 12, dropout 0.1) trained on three fixed masked-LM batches in turn: AdamW at
// 2e-3.
inline std::vector<double> bert_losses(Backend& backend, Precision precision, int steps,
                                       std::int64_t heads = 2) {
  backend.set_gemm_precision(precision);
  BertSpec spec = tiny_bert_spec(false, 0.1f);
  spec.heads = heads;
  spec.vocabulary_size = 40;
  spec.intermediate_size = 96;
  spec.max_positions = 16;
  spec.layers = 1;
  constexpr std::int64_t kLength = 12, kSlots = 3;
  ParameterStore parameters(backend);
  BertModel model(spec, parameters, 29);
  AdamWOptimizerOptions options;
  options.epsilon = 1e-6f;
  options.weight_decay = 0.01f;
  AdamWOptimizer optimizer(parameters, options);
  Executor train(model.build_graph(mlm_graph_shape(2, kLength, kSlots)).graph, backend, parameters,
                 true);
  const std::vector<MlmBatch> batches = {
      make_mlm_batch(spec.vocabulary_size, kLength, {12, 5}, {3, 1}, kSlots, 101),
      make_mlm_batch(spec.vocabulary_size, kLength, {7, 12}, {2, 2}, kSlots, 102),
      make_mlm_batch(spec.vocabulary_size, kLength, {11, 9}, {1, 3}, kSlots, 103)};
  std::vector<double> losses;
  for (int step = 1; step <= steps; ++step) {
    parameters.zero_grads();
    model.bind_inputs(train, mlm_inputs(batches[static_cast<std::size_t>(step - 1) % 3]));
    train.forward_backward(RunContext{29, static_cast<std::uint64_t>(step - 1), true});
    losses.push_back(train.loss_value());
    EXPECT_TRUE(clip_gradients_by_global_norm(parameters, 1.0).finite);
    optimizer.step(2e-3f);
  }
  backend.set_gemm_precision(Precision::fp32);
  return losses;
}

// The stated tolerance: each bf16 step's loss within 2% of the fp32 run's
// (bf16 keeps 8 bits of mantissa: operands move by up to 0.4%, and 20 steps
// of training compound it), and the bf16 run learns: its last three losses
// average below its first three.
inline void expect_bf16_tracks_fp32(const std::vector<double>& bf16,
                                    const std::vector<double>& fp32) {
  ASSERT_EQ(bf16.size(), fp32.size());
  ASSERT_GE(bf16.size(), 6u);
  bool any_difference = false;
  for (std::size_t step = 0; step < fp32.size(); ++step) {
    EXPECT_TRUE(std::isfinite(bf16[step])) << "step " << step + 1;
    EXPECT_NEAR(bf16[step], fp32[step], 2e-2 * std::abs(fp32[step])) << "step " << step + 1;
    any_difference = any_difference || bf16[step] != fp32[step];
  }
  // bf16 really rounds: the runs are not the same computation.
  EXPECT_TRUE(any_difference) << "bf16 and fp32 losses are identical";
  const std::size_t n = bf16.size();
  EXPECT_LT(bf16[n - 1] + bf16[n - 2] + bf16[n - 3], bf16[0] + bf16[1] + bf16[2])
      << "the bf16 run does not learn";
}

}  // namespace seqtrain::testing
