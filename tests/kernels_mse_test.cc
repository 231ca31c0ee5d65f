// The mean-squared-error kernels (kernels/mse.cu) on the CUDA emulation, held
// against the serial backend's mse_forward (a sum in double) and mse_backward,
// on inputs rounded to the storage type. Counts 1, 37 and 1003 are not
// multiples of the 256-thread block; 20000 is more than the 64 partial-sum
// blocks cover in one sweep, so threads loop. The forward must repeat bit for
// bit (fixed reduction order).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernel_test_storage.h"
#include "kernels/mse.h"
#include "test_support.h"

namespace seqtrain::testing {
namespace {

using kernels::MseBackwardArgs;
using kernels::MseForwardArgs;

template <class Storage>
std::string describe(std::int64_t count) {
  return std::string(std::is_same_v<Storage, float> ? "fp32" : "bf16") + " count " +
         std::to_string(count);
}

struct MseInputs {
  Tensor prediction, target;  // rounded to the storage type
};

template <class Storage>
MseInputs make_inputs(std::int64_t count) {
  const auto seed = static_cast<std::uint64_t>(count);
  return {rounded_to_storage<Storage>(random_tensor({count}, seed, 2.0f)),
          rounded_to_storage<Storage>(random_tensor({count}, seed + 1, 2.0f))};
}

template <class Storage>
float kernel_loss(const MseInputs& inputs) {
  const std::int64_t count = inputs.prediction.numel();
  const std::vector<Storage> prediction = storage_values<Storage>(inputs.prediction);
  const std::vector<Storage> target = storage_values<Storage>(inputs.target);
  std::vector<float> workspace(kernels::kMseForwardWorkspaceFloats, -7.0f);
  float loss = -7.0f;
  kernels::mse_forward(
      MseForwardArgs<Storage>{count, prediction.data(), target.data(), workspace.data(), &loss},
      nullptr);
  return loss;
}

template <class Storage>
void expect_forward_matches_serial(std::int64_t count, bool check_repeat) {
  SCOPED_TRACE(describe<Storage>(count));
  const MseInputs inputs = make_inputs<Storage>(count);
  const float loss = kernel_loss<Storage>(inputs);
  Tensor expected = Tensor::zeros({1});
  make_serial_backend()->mse_forward(inputs.prediction, inputs.target, expected);
  // The inputs are identical; only the fp32 summation order differs from
  // serial's double sum (relative error ~ log2(n) 2^-24 for positive terms).
  EXPECT_TRUE(
      tensors_close(Tensor::from_vector(std::vector<float>{loss}, {1}), expected, 0.0, 2e-6));
  if (check_repeat) {
    EXPECT_EQ(kernel_loss<Storage>(inputs), loss) << "the reduction order must be fixed";
  }
}

TEST(MseKernels, ForwardMatchesSerialAndRepeatsExactly) {
  for (std::int64_t count : {1, 37, 1003}) {
    expect_forward_matches_serial<float>(count, count == 1003);
    expect_forward_matches_serial<__nv_bfloat16>(count, false);
  }
  expect_forward_matches_serial<float>(20000, false);
}

TEST(MseKernels, ForwardOfNothingIsZero) {
  float loss = -7.0f;
  std::vector<float> workspace(kernels::kMseForwardWorkspaceFloats, -7.0f);
  kernels::mse_forward(MseForwardArgs<float>{0, nullptr, nullptr, workspace.data(), &loss},
                       nullptr);
  EXPECT_EQ(loss, 0.0f);
}

template <class Storage>
void expect_backward_matches_serial(std::int64_t count) {
  SCOPED_TRACE(describe<Storage>(count));
  const MseInputs inputs = make_inputs<Storage>(count);
  const std::vector<Storage> prediction = storage_values<Storage>(inputs.prediction);
  const std::vector<Storage> target = storage_values<Storage>(inputs.target);
  const float dloss = 0.75f;
  GuardedBuffer<Storage> dprediction(count, 0, storage_from_float<Storage>(-7.0f));
  kernels::mse_backward(
      MseBackwardArgs<Storage>{count, prediction.data(), target.data(), &dloss, dprediction.data()},
      nullptr);
  Tensor expected = Tensor::zeros({count});
  make_serial_backend()->mse_backward(inputs.prediction, inputs.target,
                                      Tensor::from_vector(std::vector<float>{dloss}, {1}),
                                      expected);
  const double rtol = std::is_same_v<Storage, float> ? 1e-6 : 4e-3;
  EXPECT_TRUE(tensors_close(storage_tensor(dprediction.data(), {count}), expected, 0.0, rtol));
  EXPECT_TRUE(dprediction.guards_intact());
}

TEST(MseKernels, BackwardMatchesSerial) {
  for (std::int64_t count : {1, 37, 1003}) {
    expect_backward_matches_serial<float>(count);
    expect_backward_matches_serial<__nv_bfloat16>(count);
  }
}

}  // namespace
}  // namespace seqtrain::testing
