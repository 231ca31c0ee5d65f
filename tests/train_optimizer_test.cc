// Optimizers against hand-computed steps and against torch.optim.AdamW / SGD.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "seqtrain/backend.h"
#include "seqtrain/parameters.h"
#include "test_support.h"
#include "train/optimizer.h"

namespace seqtrain {
namespace {

// Two parameters: "weight" takes weight decay, "bias" does not.
struct TinyModel {
  std::unique_ptr<Backend> backend = make_serial_backend();
  ParameterStore store{*backend};

  TinyModel() {
    store.add("weight", {2, 2}, true);
    store.add("bias", {2}, false);
    store.set_value(store.get("weight"),
                    Tensor::from_vector(std::vector<float>{1.0f, -2.0f, 0.25f, 3.0f}, {2, 2}));
    store.set_value(store.get("bias"), Tensor::from_vector(std::vector<float>{0.5f, -0.125f}, {2}));
  }
  void set_grads(const std::vector<float>& weight_grad, const std::vector<float>& bias_grad) {
    backend->copy_from_host(Tensor::from_vector(weight_grad, {2, 2}), store.get("weight").grad);
    backend->copy_from_host(Tensor::from_vector(bias_grad, {2}), store.get("bias").grad);
  }
  std::vector<float> value(const std::string& name) {
    return store.value_to_host(store.get(name)).to_vector();
  }
};

// The gradients of three steps, shared with the PyTorch script quoted below.
const std::vector<std::vector<float>> kWeightGrads = {
    {0.5f, -1.0f, 0.0f, 2.0f}, {-0.25f, 0.5f, 1.5f, -1.0f}, {0.75f, 0.125f, -0.5f, 0.25f}};
const std::vector<std::vector<float>> kBiasGrads = {{0.2f, -0.3f}, {0.1f, 0.4f}, {-0.6f, 0.05f}};

// |actual - expected| <= atol + rtol |expected| element by element.
void expect_values_near(const std::vector<float>& actual, const std::vector<float>& expected,
                        double atol, double rtol = 0.0) {
  ASSERT_EQ(actual.size(), expected.size());
  for (std::size_t i = 0; i < actual.size(); ++i)
    EXPECT_NEAR(actual[i], expected[i], atol + rtol * std::abs(expected[i])) << "element " << i;
}

TEST(AdamWOptimizer, FirstStepMovesEachWeightByLearningRateTimesSignPlusDecay) {
  // At t = 1, m_hat = g and v_hat = g^2, so the Adam direction is g / (|g| + eps),
  // i.e. sign(g) (0 where g = 0); decay adds wd * p on decayed parameters only.
  TinyModel model;
  AdamWOptimizer optimizer(
      model.store, {.beta1 = 0.9f, .beta2 = 0.999f, .epsilon = 1e-8f, .weight_decay = 0.1f});
  model.set_grads(kWeightGrads[0], kBiasGrads[0]);
  optimizer.step(0.1f);
  EXPECT_EQ(optimizer.step_count(), 1);
  expect_values_near(model.value("weight"),
                     {1.0f - 0.1f * (1.0f + 0.1f * 1.0f), -2.0f - 0.1f * (-1.0f + 0.1f * -2.0f),
                      0.25f - 0.1f * (0.0f + 0.1f * 0.25f), 3.0f - 0.1f * (1.0f + 0.1f * 3.0f)},
                     1e-6);
  expect_values_near(model.value("bias"), {0.5f - 0.1f, -0.125f + 0.1f}, 1e-6);
  auto state = optimizer.state_to_host();
  expect_values_near(state.at("weight.exp_avg").to_vector(), {0.05f, -0.1f, 0.0f, 0.2f}, 1e-7);
  const float one_minus_beta2 = 1.0f - 0.999f;  // beta2 is a float: 0.00099998713
  expect_values_near(state.at("weight.exp_avg_sq").to_vector(),
                     {one_minus_beta2 * 0.25f, one_minus_beta2, 0.0f, one_minus_beta2 * 4.0f},
                     1e-12, 1e-6);
}

// Values from torch 2.x:
//   w = torch.tensor([1., -2., .25, 3.], requires_grad=True)
//   b = torch.tensor([.5, -.125], requires_grad=True)
//   opt = torch.optim.AdamW([{"params": [w]}, {"params": [b], "weight_decay": 0.}],
//                           lr=.1, betas=(.9, .999), eps=1e-8, weight_decay=.1)
//   for gw, gb in grads: w.grad, b.grad = torch.tensor(gw), torch.tensor(gb); opt.step()
// PyTorch holds beta2 = 0.999 as a double; our options hold it as a float, so
// 1 - beta2 differs by 1.3e-5 relative, which the second moments show.
TEST(AdamWOptimizer, ThreeStepsMatchTorchAdamW) {
  TinyModel model;
  AdamWOptimizer optimizer(
      model.store, {.beta1 = 0.9f, .beta2 = 0.999f, .epsilon = 1e-8f, .weight_decay = 0.1f});
  for (std::size_t step = 0; step < 3; ++step) {
    model.set_grads(kWeightGrads[step], kBiasGrads[step]);
    optimizer.step(0.1f);
  }
  expect_values_near(model.value("weight"), {0.782389641f, -1.80286467f, 0.134547949f, 2.75895524f},
                     2e-6);
  expect_values_near(model.value("bias"), {0.341504395f, -0.0655958503f}, 2e-6);
  auto state = optimizer.state_to_host();
  expect_values_near(state.at("weight.exp_avg").to_vector(),
                     {0.0930000022f, -0.0234999992f, 0.0850000083f, 0.0969999954f}, 1e-7);
  expect_values_near(state.at("weight.exp_avg_sq").to_vector(),
                     {0.000874437741f, 0.00126337609f, 0.00249774987f, 0.00505350437f}, 1e-12,
                     2e-5);
  expect_values_near(state.at("bias.exp_avg").to_vector(), {-0.0348000005f, 0.0166999996f}, 1e-7);
  expect_values_near(state.at("bias.exp_avg_sq").to_vector(), {0.000409910077f, 0.000252160098f},
                     1e-12, 2e-5);
}

// PyTorch's single-tensor AdamW loop, in double, step by step:
//   p *= 1 - lr wd;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
//   p -= (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps)
TEST(AdamWOptimizer, RandomStepsMatchTorchFormulaInDouble) {
  auto backend = make_serial_backend();
  ParameterStore store(*backend);
  Parameter& parameter = store.add("p", {3, 5}, true);
  Tensor initial = testing::random_tensor({3, 5}, 11);
  store.set_value(parameter, initial);
  const double lr = 3e-3, beta1 = 0.8, beta2 = 0.95, epsilon = 1e-6, decay = 0.05;
  AdamWOptimizer optimizer(store, {.beta1 = static_cast<float>(beta1),
                                   .beta2 = static_cast<float>(beta2),
                                   .epsilon = static_cast<float>(epsilon),
                                   .weight_decay = static_cast<float>(decay)});
  const std::vector<float> initial_values = initial.to_vector();
  std::vector<double> p(initial_values.begin(), initial_values.end());
  std::vector<double> m(p.size(), 0.0), v(p.size(), 0.0);
  for (int t = 1; t <= 5; ++t) {
    Tensor grad = testing::random_tensor({3, 5}, 100 + t);
    backend->copy_from_host(grad, parameter.grad);
    optimizer.step(static_cast<float>(lr));
    const std::vector<float> g = grad.to_vector();
    const double correction1 = 1 - std::pow(static_cast<float>(beta1), t);
    const double correction2 = 1 - std::pow(static_cast<float>(beta2), t);
    for (std::size_t i = 0; i < p.size(); ++i) {
      p[i] *= 1 - lr * decay;
      m[i] = beta1 * m[i] + (1 - beta1) * g[i];
      v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
      p[i] -= (lr / correction1) * m[i] / (std::sqrt(v[i]) / std::sqrt(correction2) + epsilon);
    }
  }
  std::vector<float> expected(p.begin(), p.end());
  expect_values_near(store.value_to_host(parameter).to_vector(), expected, 2e-6);
}

TEST(SgdOptimizer, TwoHeavyBallStepsMatchHandComputedValues) {
  // Step 1: u = g + wd p (decayed params only), p -= lr u.
  // Step 2: u = mu u + g + wd p, p -= lr u.
  TinyModel model;
  SgdOptimizer optimizer(model.store, {.momentum = 0.9f, .weight_decay = 0.1f});
  model.set_grads(kWeightGrads[0], kBiasGrads[0]);
  optimizer.step(0.1f);
  // weight: u1 = [0.6, -1.2, 0.025, 2.3], p1 = [0.94, -1.88, 0.2475, 2.77]
  // bias:   u1 = [0.2, -0.3],             p1 = [0.48, -0.095]
  expect_values_near(model.value("weight"), {0.94f, -1.88f, 0.2475f, 2.77f}, 1e-6);
  expect_values_near(model.value("bias"), {0.48f, -0.095f}, 1e-6);
  model.set_grads(kWeightGrads[1], kBiasGrads[1]);
  optimizer.step(0.1f);
  // weight: u2 = 0.9 u1 + g2 + 0.1 p1 = [0.384, -0.768, 1.54725, 1.347]
  //         p2 = p1 - 0.1 u2       = [0.9016, -1.8032, 0.092775, 2.6353]
  // bias:   u2 = 0.9 u1 + g2 = [0.28, 0.13], p2 = [0.452, -0.108]
  expect_values_near(model.value("weight"), {0.9016f, -1.8032f, 0.092775f, 2.6353f}, 1e-6);
  expect_values_near(model.value("bias"), {0.452f, -0.108f}, 1e-6);
  expect_values_near(optimizer.state_to_host().at("weight.momentum_buffer").to_vector(),
                     {0.384f, -0.768f, 1.54725f, 1.347f}, 1e-6);
}

// Values from torch 2.x, same parameters and gradients as the AdamW case:
//   torch.optim.SGD(groups, lr=.1, momentum=.9, weight_decay=.1, nesterov=False/True)
TEST(SgdOptimizer, ThreeStepsMatchTorchSgd) {
  TinyModel model;
  SgdOptimizer optimizer(model.store, {.momentum = 0.9f, .weight_decay = 0.1f});
  for (std::size_t step = 0; step < 3; ++step) {
    model.set_grads(kWeightGrads[step], kBiasGrads[step]);
    optimizer.step(0.1f);
  }
  expect_values_near(model.value("weight"),
                     {0.783024013f, -1.72854805f, 0.00259475131f, 2.46271682f}, 2e-6);
  expect_values_near(model.value("bias"), {0.486799985f, -0.124699995f}, 2e-6);
  expect_values_near(optimizer.state_to_host().at("weight.momentum_buffer").to_vector(),
                     {1.18576002f, -0.746519983f, 0.901802421f, 1.72582984f}, 2e-6);
}

TEST(SgdOptimizer, ThreeNesterovStepsMatchTorchSgd) {
  TinyModel model;
  SgdOptimizer optimizer(model.store, {.momentum = 0.9f, .weight_decay = 0.1f, .nesterov = true});
  for (std::size_t step = 0; step < 3; ++step) {
    model.set_grads(kWeightGrads[step], kBiasGrads[step]);
    optimizer.step(0.1f);
  }
  expect_values_near(model.value("weight"),
                     {0.678406119f, -1.66556215f, -0.0758615136f, 2.31523061f}, 2e-6);
  expect_values_near(model.value("bias"), {0.518119991f, -0.139730006f}, 2e-6);
  expect_values_near(optimizer.state_to_host().at("weight.momentum_buffer").to_vector(),
                     {1.17754662f, -0.730093181f, 0.88767904f, 1.69547021f}, 2e-6);
}

TEST(SgdOptimizer, NesterovWithoutMomentumIsAConfigError) {
  TinyModel model;
  EXPECT_THROW(SgdOptimizer(model.store, {.momentum = 0.0f, .nesterov = true}), ConfigError);
}

TEST(AdamWOptimizer, OutOfRangeBetaIsAConfigError) {
  TinyModel model;
  EXPECT_THROW(AdamWOptimizer(model.store, {.beta1 = 1.0f}), ConfigError);
}

TEST(Optimizer, StateRestoredFromHostContinuesBitForBit) {
  TinyModel uninterrupted;
  AdamWOptimizer reference(uninterrupted.store, {});
  for (std::size_t step = 0; step < 3; ++step) {
    uninterrupted.set_grads(kWeightGrads[step], kBiasGrads[step]);
    reference.step(0.01f);
  }
  // A second run does two steps, saves, and a third run resumes from the save.
  TinyModel first;
  AdamWOptimizer saved(first.store, {});
  for (std::size_t step = 0; step < 2; ++step) {
    first.set_grads(kWeightGrads[step], kBiasGrads[step]);
    saved.step(0.01f);
  }
  TinyModel resumed;
  for (const char* name : {"weight", "bias"})
    resumed.store.set_value(resumed.store.get(name),
                            first.store.value_to_host(first.store.get(name)));
  AdamWOptimizer restored(resumed.store, {});
  restored.load_state(saved.state_to_host(), saved.step_count());
  EXPECT_EQ(restored.step_count(), 2);
  resumed.set_grads(kWeightGrads[2], kBiasGrads[2]);
  restored.step(0.01f);
  EXPECT_EQ(resumed.value("weight"), uninterrupted.value("weight"));
  EXPECT_EQ(resumed.value("bias"), uninterrupted.value("bias"));
}

TEST(Optimizer, LoadStateRejectsMissingExtraAndMisshapenTensors) {
  TinyModel model;
  SgdOptimizer optimizer(model.store, {.momentum = 0.9f});
  const auto good = optimizer.state_to_host();
  ASSERT_EQ(good.size(), 2u);

  auto missing = good;
  missing.erase("bias.momentum_buffer");
  try {
    optimizer.load_state(missing, 1);
    FAIL() << "missing tensor accepted";
  } catch (const CheckpointError& error) {
    EXPECT_NE(std::string(error.what()).find("bias.momentum_buffer"), std::string::npos)
        << error.what();
  }
  auto extra = good;
  extra.emplace("decoder.momentum_buffer", Tensor::zeros({2}));
  EXPECT_THROW(optimizer.load_state(extra, 1), CheckpointError);
  auto misshapen = good;
  misshapen["weight.momentum_buffer"] = Tensor::zeros({4});
  try {
    optimizer.load_state(misshapen, 1);
    FAIL() << "misshapen tensor accepted";
  } catch (const CheckpointError& error) {
    EXPECT_NE(std::string(error.what()).find("[2, 2]"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("[4]"), std::string::npos) << error.what();
  }
  EXPECT_EQ(optimizer.step_count(), 0);  // nothing was loaded
}

}  // namespace
}  // namespace seqtrain
