// A short BERT masked-LM training run on the emulated CUDA device
// (src/backends/cuda on kernels/emu/runtime + kernels/emu) against the same run
// on the cpu backend: three optimizer steps as the trainer drives them
// (forward and backward with dropout on, global-norm clipping, AdamW with
// weight decay), then one evaluation forward. Both backends start from the
// same weights (BertModel's initialisation is a host RNG) and draw the same
// Philox dropout masks, so the losses, gradient norms, final parameters and
// evaluation logits agree up to fp32 reduction order.
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "backends/cuda/cuda_backend.h"
#include "bert_test_support.h"
#include "test_support.h"
#include "train/grad_clip.h"
#include "tasks/mlm_runner.h"
#include "train/optimizer.h"

namespace seqtrain::testing {
namespace {

constexpr std::uint64_t kSeed = 29;
constexpr int kSteps = 3;
constexpr std::int64_t kLength = 12, kSlots = 3;
constexpr double kMaxGradientNorm = 0.5;

// hidden 64 with 2 heads (head dimension 32, the smallest the attention
// kernels support), one post-LN layer, dropout 0.1 at every site.
BertSpec small_bert_spec() {
  BertSpec spec = tiny_bert_spec(false, 0.1f);
  spec.vocabulary_size = 40;
  spec.intermediate_size = 96;
  spec.max_positions = 16;
  spec.layers = 1;
  return spec;
}

// Two rows (the emulation runs real threads: small shapes), uneven lengths
// (padding in most rows) and uneven masked counts, one row without any
// masked slot.
std::vector<MlmBatch> training_batches(const BertSpec& spec) {
  return {make_mlm_batch(spec.vocabulary_size, kLength, {12, 5}, {3, 1}, kSlots, 101),
          make_mlm_batch(spec.vocabulary_size, kLength, {7, 12}, {2, 0}, kSlots, 102),
          make_mlm_batch(spec.vocabulary_size, kLength, {11, 9}, {1, 3}, kSlots, 103)};
}

// Every parameter at a scale where each one visibly moves the loss and the
// dropout masks visibly change it (BERT's 0.02 initialisation leaves logits
// near zero and the loss near log V whatever the masks): the same host values
// on both backends.
void randomise_parameters(ParameterStore& parameters) {
  std::uint64_t seed = 700;
  for (const auto& parameter : parameters.all()) {
    const bool gain = parameter->name.ends_with("LayerNorm.weight");
    Tensor value = random_tensor(parameter->value.shape(), seed++, gain ? 0.3f : 0.2f);
    if (gain)
      for (float& v : value.span<float>()) v += 1.0f;
    parameters.set_value(*parameter, value);
  }
}

struct BertTrainingTrace {
  std::vector<double> losses;
  std::vector<double> gradient_norms;  // before clipping
  std::map<std::string, Tensor> initial_parameters, parameters;
  float evaluation_loss = 0.0f;
  Tensor evaluation_logits;
};

BertTrainingTrace train_bert(Backend& backend) {
  const BertSpec spec = small_bert_spec();
  ParameterStore parameters(backend);
  BertModel model(spec, parameters, kSeed);
  randomise_parameters(parameters);
  AdamWOptimizerOptions options;
  options.epsilon = 1e-6f;  // BERT's recipe
  options.weight_decay = 0.01f;
  AdamWOptimizer optimizer(parameters, options);

  // One executor replayed for every step, as the trainer does.
  ModelGraph train_graph = model.build_graph(mlm_graph_shape(2, kLength, kSlots));
  Executor train(std::move(train_graph.graph), backend, parameters, true);
  BertTrainingTrace trace;
  for (const auto& parameter : parameters.all())
    trace.initial_parameters[parameter->name] = parameters.value_to_host(*parameter);
  const std::vector<MlmBatch> batches = training_batches(spec);
  for (std::uint64_t step = 1; step <= kSteps; ++step) {
    parameters.zero_grads();
    model.bind_inputs(train, mlm_inputs(batches[step - 1]));
    train.forward_backward(RunContext{kSeed, step - 1, true});
    trace.losses.push_back(train.loss_value());
    const GradientNorm norm = clip_gradients_by_global_norm(parameters, kMaxGradientNorm);
    EXPECT_TRUE(norm.finite) << backend.name() << " step " << step;
    trace.gradient_norms.push_back(norm.norm);
    optimizer.step(2e-3f);
  }
  for (const auto& parameter : parameters.all())
    trace.parameters[parameter->name] = parameters.value_to_host(*parameter);

  ModelGraph eval_graph = model.build_graph(mlm_graph_shape(2, kLength, kSlots));
  const ValueId logits = eval_graph.output;
  Executor evaluate(std::move(eval_graph.graph), backend, parameters, false);
  model.bind_inputs(evaluate, mlm_inputs(make_mlm_batch(spec.vocabulary_size, kLength, {10, 8},
                                                       {3, 2}, kSlots, 104)));
  evaluate.forward(RunContext{kSeed, kSteps, false});
  trace.evaluation_loss = evaluate.loss_value();
  trace.evaluation_logits = evaluate.value_to_host(logits);
  return trace;
}

TEST(CudaBackendBert, ThreeTrainingStepsWithDropoutMatchTheCpuBackend) {
  CpuBackend cpu(2);
  CudaBackend cuda(0);
  const BertTrainingTrace expected = train_bert(cpu);
  const BertTrainingTrace actual = train_bert(cuda);

  ASSERT_EQ(actual.losses.size(), expected.losses.size());
  for (std::size_t step = 0; step < expected.losses.size(); ++step) {
    EXPECT_NEAR(actual.losses[step], expected.losses[step], 1e-4 * expected.losses[step])
        << "step " << step + 1;
    EXPECT_NEAR(actual.gradient_norms[step], expected.gradient_norms[step],
                1e-4 * expected.gradient_norms[step])
        << "step " << step + 1;
    // The clipping is exercised, not a no-op.
    EXPECT_GT(expected.gradient_norms[step], kMaxGradientNorm) << "step " << step + 1;
  }
  for (const auto& [name, value] : expected.parameters) {
    // Every parameter moved: the comparison is not of the initial weights.
    EXPECT_FALSE(tensors_close(value, expected.initial_parameters.at(name), 1e-4, 0.0)) << name;
    EXPECT_TRUE(tensors_close(actual.parameters.at(name), value, 1e-5, 1e-4)) << name;
  }

  EXPECT_NEAR(actual.evaluation_loss, expected.evaluation_loss, 1e-4 * expected.evaluation_loss);
  EXPECT_TRUE(tensors_close(actual.evaluation_logits, expected.evaluation_logits, 1e-4, 1e-4))
      << "evaluation logits";
}

}  // namespace
}  // namespace seqtrain::testing
