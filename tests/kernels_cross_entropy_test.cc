// The softmax cross-entropy kernels (kernels/cross_entropy.cu) on the CUDA
// emulation against the serial backend: loss, saved log-sum-exp and dlogits,
// with ignored rows, fp32 and bf16 storage (the serial backend sees the logits
// rounded to the storage type). Shapes: C = 1000 classes (seven full passes of
// the 128-thread row block and one partial), N = 9 rows, so the dlogits grid's
// last block is partial too.
#include <gtest/gtest.h>

#include <vector>

#include "kernel_test_storage.h"
#include "kernels/bad_index.h"
#include "kernels/cross_entropy.h"
#include "test_support.h"

namespace seqtrain::testing {
namespace {

using kernels::CrossEntropyBackwardArgs;
using kernels::CrossEntropyForwardArgs;

constexpr std::int64_t kIgnore = -100;

struct KernelResult {
  float loss = -7.0f;
  std::vector<float> log_sum_exp;
  Tensor dlogits;
  unsigned long long bad_target = 0;
};

template <class Storage>
KernelResult run_kernels(const Tensor& logits, const std::vector<std::int32_t>& targets,
                         float dloss) {
  const std::int64_t rows = logits.dim(0);
  const auto columns = static_cast<std::int32_t>(logits.dim(1));
  const std::vector<Storage> logit_values = storage_values<Storage>(logits);
  KernelResult result;
  result.log_sum_exp.assign(static_cast<std::size_t>(rows), -7.0f);
  std::vector<float> forward_workspace(
      kernels::cross_entropy_forward_workspace_bytes(rows) / sizeof(float), -7.0f);
  CrossEntropyForwardArgs<Storage> forward;
  forward.rows = rows;
  forward.columns = columns;
  forward.ignore_index = kIgnore;
  forward.logits = logit_values.data();
  forward.targets = targets.data();
  forward.loss = &result.loss;
  forward.log_sum_exp = result.log_sum_exp.data();
  forward.bad_target = &result.bad_target;
  forward.workspace = forward_workspace.data();
  kernels::cross_entropy_forward(forward, nullptr);

  std::vector<Storage> dlogits(logit_values.size(), storage_from_float<Storage>(-7.0f));
  float backward_workspace = -7.0f;
  CrossEntropyBackwardArgs<Storage> backward;
  backward.rows = rows;
  backward.columns = columns;
  backward.ignore_index = kIgnore;
  backward.logits = logit_values.data();
  backward.targets = targets.data();
  backward.log_sum_exp = result.log_sum_exp.data();
  backward.dloss = &dloss;
  backward.dlogits = dlogits.data();
  backward.workspace = &backward_workspace;
  kernels::cross_entropy_backward(backward, nullptr);
  result.dlogits = storage_tensor(dlogits, logits.shape());
  return result;
}

struct SerialResult {
  Tensor loss = Tensor::zeros({1});
  Tensor log_sum_exp;
  Tensor dlogits;
};

SerialResult run_serial(const Tensor& logits, const std::vector<std::int32_t>& targets,
                        float dloss) {
  auto serial = make_serial_backend();
  const Tensor target_tensor =
      Tensor::from_vector(targets, {static_cast<std::int64_t>(targets.size())});
  SerialResult result;
  result.log_sum_exp = Tensor::zeros({logits.dim(0)});
  result.dlogits = Tensor::zeros(logits.shape());
  serial->cross_entropy_forward(logits, target_tensor, kIgnore, result.loss, result.log_sum_exp);
  serial->cross_entropy_backward(logits, target_tensor, result.log_sum_exp,
                                 Tensor::from_vector(std::vector<float>{dloss}, {1}), kIgnore,
                                 result.dlogits);
  return result;
}

template <class Storage>
void expect_kernels_match_serial(const std::vector<std::int32_t>& targets, double atol, double rtol,
                                 std::uint64_t seed) {
  const std::int64_t rows = static_cast<std::int64_t>(targets.size()), columns = 1000;
  const Tensor logits = rounded_to_storage<Storage>(random_tensor({rows, columns}, seed, 6.0f));
  const float dloss = 0.7f;
  const SerialResult expected = run_serial(logits, targets, dloss);
  const KernelResult actual = run_kernels<Storage>(logits, targets, dloss);
  EXPECT_NEAR(actual.loss, expected.loss.data<float>()[0],
              1e-5 * std::abs(expected.loss.data<float>()[0]))
      << "loss";
  EXPECT_TRUE(tensors_close(Tensor::from_vector(actual.log_sum_exp, {rows}), expected.log_sum_exp,
                            1e-5, 1e-6))
      << "log_sum_exp";
  EXPECT_TRUE(tensors_close(actual.dlogits, expected.dlogits, atol, rtol)) << "dlogits";
  EXPECT_EQ(actual.bad_target, 0u);
  // The loss is summed in a fixed order: a second run repeats it bit for bit.
  EXPECT_EQ(run_kernels<Storage>(logits, targets, dloss).loss, actual.loss);
}

const std::vector<std::int32_t> kTargets = {3, 999, -100, 0, 512, 127, 128, -100, 998};

TEST(CrossEntropyKernels, LossLogSumExpAndGradientsMatchTheSerialBackend) {
  expect_kernels_match_serial<float>(kTargets, 1e-7, 1e-4, 31);
}

TEST(CrossEntropyKernels, Bf16LogitsWithFp32MathMatchTheSerialBackend) {
  // dlogits are rounded to 8 bits of mantissa: relative error 2^-9.
  expect_kernels_match_serial<__nv_bfloat16>(kTargets, 1e-7, 4e-3, 32);
}

TEST(CrossEntropyKernels, EveryRowIgnoredGivesZeroLossAndGradients) {
  const std::vector<std::int32_t> ignored(5, static_cast<std::int32_t>(kIgnore));
  const Tensor logits = random_tensor({5, 1000}, 33, 6.0f);
  const KernelResult result = run_kernels<float>(logits, ignored, 1.0f);
  EXPECT_EQ(result.loss, 0.0f);
  for (float value : result.dlogits.to_vector()) ASSERT_EQ(value, 0.0f);
}

TEST(CrossEntropyKernels, TargetOutsideTheClassesIsReportedAndNotCounted) {
  std::vector<std::int32_t> targets = kTargets;
  targets[6] = -3;
  targets[4] = 1000;
  const Tensor logits = random_tensor({9, 1000}, 34, 6.0f);
  const KernelResult result = run_kernels<float>(logits, targets, 1.0f);
  const kernels::BadIndex bad = kernels::decode_bad_index(result.bad_target);
  ASSERT_TRUE(bad.found);
  EXPECT_EQ(bad.position, 4);  // the first bad row, whatever the block order
  EXPECT_EQ(bad.value, 1000);
  // The loss is that of the valid rows alone.
  std::vector<std::int32_t> valid = targets;
  valid[6] = valid[4] = static_cast<std::int32_t>(kIgnore);
  const SerialResult expected = run_serial(logits, valid, 1.0f);
  EXPECT_NEAR(result.loss, expected.loss.data<float>()[0], 1e-5);
}

}  // namespace
}  // namespace seqtrain::testing
