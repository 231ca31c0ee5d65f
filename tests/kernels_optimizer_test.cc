// The fused multi-tensor optimizer kernels (kernels/optimizer.cu) on the CUDA
// emulation against the serial backend's adamw_update and sgd_update, over
// several steps of tensors whose sizes are not multiples of the 1024-element
// block (1, 37, 1025: one block and one element, an empty tensor, 300, 2049),
// all updated by one launch per step.
#include <gtest/gtest.h>

#include <vector>

#include "kernels/optimizer.h"
#include "test_support.h"

namespace seqtrain::testing {
namespace {

using kernels::OptimizerTensor;

const std::vector<std::int64_t> kSizes = {1, 37, 1025, 0, 300, 2049};
constexpr int kSteps = 3;

struct TensorSet {
  std::vector<Tensor> parameters, first_moments, second_moments;
  std::vector<std::vector<Tensor>> grads;  // [step][tensor]

  explicit TensorSet(std::uint64_t seed) {
    for (std::size_t t = 0; t < kSizes.size(); ++t) {
      const std::uint64_t s = seed + 10 * t;
      parameters.push_back(random_tensor({kSizes[t]}, s));
      first_moments.push_back(Tensor::zeros({kSizes[t]}));
      second_moments.push_back(Tensor::zeros({kSizes[t]}));
    }
    for (int step = 0; step < kSteps; ++step) {
      grads.emplace_back();
      for (std::size_t t = 0; t < kSizes.size(); ++t)
        grads.back().push_back(random_tensor({kSizes[t]}, seed + 1000 + 10 * step + t, 0.1f));
    }
  }

  // Descriptors pointing at this set's host tensors, planned: the emulation's
  // "device array".
  std::vector<OptimizerTensor> descriptors(int step, std::int64_t* blocks) {
    std::vector<OptimizerTensor> tensors;
    for (std::size_t t = 0; t < kSizes.size(); ++t) {
      OptimizerTensor d;
      d.parameter = parameters[t].data<float>();
      d.grad = grads[static_cast<std::size_t>(step)][t].data<float>();
      d.first_moment = first_moments[t].data<float>();
      d.second_moment = second_moments[t].data<float>();
      d.numel = kSizes[t];
      tensors.push_back(d);
    }
    *blocks =
        kernels::plan_optimizer_blocks(tensors.data(), static_cast<std::int32_t>(tensors.size()));
    return tensors;
  }
};

void expect_sets_close(const TensorSet& actual, const TensorSet& expected, bool adamw) {
  for (std::size_t t = 0; t < kSizes.size(); ++t) {
    EXPECT_TRUE(tensors_close(actual.parameters[t], expected.parameters[t], 1e-6, 1e-5))
        << "parameter " << t;
    EXPECT_TRUE(tensors_close(actual.first_moments[t], expected.first_moments[t], 1e-7, 1e-5))
        << "first moment " << t;
    if (adamw) {
      EXPECT_TRUE(tensors_close(actual.second_moments[t], expected.second_moments[t], 1e-9, 1e-5))
          << "second moment " << t;
    }
  }
}

TEST(OptimizerKernels, PlanGivesEachTensorItsBlocksInOrder) {
  std::vector<OptimizerTensor> tensors(kSizes.size());
  for (std::size_t t = 0; t < kSizes.size(); ++t) tensors[t].numel = kSizes[t];
  EXPECT_EQ(kernels::plan_optimizer_blocks(tensors.data(), 6), 1 + 1 + 2 + 0 + 1 + 3);
  const std::vector<std::int64_t> first = {0, 1, 2, 4, 4, 5};
  for (std::size_t t = 0; t < kSizes.size(); ++t) EXPECT_EQ(tensors[t].first_block, first[t]);
}

TEST(OptimizerKernels, FusedAdamWMatchesTheSerialBackendOverSeveralSteps) {
  TensorSet expected(41), actual(41);
  auto serial = make_serial_backend();
  for (int step = 0; step < kSteps; ++step) {
    const AdamWOptions options{1e-2f, 0.9f, 0.999f, 1e-8f, 0.01f, step + 1};
    for (std::size_t t = 0; t < kSizes.size(); ++t)
      serial->adamw_update(expected.parameters[t],
                           expected.grads[static_cast<std::size_t>(step)][t],
                           expected.first_moments[t], expected.second_moments[t], options);
    kernels::AdamWArgs args;
    const std::vector<OptimizerTensor> tensors = actual.descriptors(step, &args.blocks);
    args.tensors = tensors.data();
    args.tensor_count = static_cast<std::int32_t>(tensors.size());
    args.learning_rate = options.learning_rate;
    args.beta1 = options.beta1;
    args.beta2 = options.beta2;
    args.epsilon = options.epsilon;
    args.weight_decay = options.weight_decay;
    args.step = options.step;
    kernels::adamw_update(args, nullptr);
  }
  expect_sets_close(actual, expected, true);
}

TEST(OptimizerKernels, FusedSgdWithMomentumMatchesTheSerialBackendOverSeveralSteps) {
  TensorSet expected(42), actual(42);
  auto serial = make_serial_backend();
  for (int step = 0; step < kSteps; ++step) {
    for (std::size_t t = 0; t < kSizes.size(); ++t)
      serial->sgd_update(expected.parameters[t], expected.grads[static_cast<std::size_t>(step)][t],
                         expected.first_moments[t], 0.1f, 0.9f, 0.01f);
    kernels::SgdArgs args;
    const std::vector<OptimizerTensor> tensors = actual.descriptors(step, &args.blocks);
    args.tensors = tensors.data();
    args.tensor_count = static_cast<std::int32_t>(tensors.size());
    args.learning_rate = 0.1f;
    args.momentum = 0.9f;
    args.weight_decay = 0.01f;
    kernels::sgd_update(args, nullptr);
  }
  expect_sets_close(actual, expected, false);
}

}  // namespace
}  // namespace seqtrain::testing
