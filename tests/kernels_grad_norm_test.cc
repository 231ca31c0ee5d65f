// The global gradient-norm kernels (kernels/grad_norm.cu) on the CUDA emulation
// against the serial backend's sum_of_squares added over tensors, for tensors
// whose sizes are not multiples of the 1024-element block (and an empty one),
// with values over six orders of magnitude; the result repeats bit for bit.
#include <gtest/gtest.h>

#include <vector>

#include "kernels/grad_norm.h"
#include "test_support.h"

namespace seqtrain::testing {
namespace {

using kernels::OptimizerTensor;

double run_kernels(std::vector<Tensor>& grads) {
  std::vector<OptimizerTensor> tensors;
  for (Tensor& grad : grads) {
    OptimizerTensor d;
    d.grad = grad.data<float>();
    d.numel = grad.numel();
    tensors.push_back(d);
  }
  kernels::GradNormArgs args;
  args.tensors = tensors.data();
  args.tensor_count = static_cast<std::int32_t>(tensors.size());
  args.blocks = kernels::plan_optimizer_blocks(tensors.data(), args.tensor_count);
  std::vector<double> workspace(kernels::grad_norm_workspace_bytes(args.blocks) / sizeof(double),
                                -7.0);
  double sum_of_squares = -7.0;
  args.sum_of_squares = &sum_of_squares;
  args.workspace = workspace.data();
  kernels::grad_sum_of_squares(args, nullptr);
  return sum_of_squares;
}

TEST(GradNormKernels, SumOfSquaresOverTensorsMatchesTheSerialBackendAndRepeatsExactly) {
  const std::vector<std::int64_t> sizes = {1, 37, 1025, 0, 300, 2049};
  const std::vector<float> scales = {1e3f, 1.0f, 1e-3f, 1.0f, 0.5f, 2.0f};
  std::vector<Tensor> grads;
  auto serial = make_serial_backend();
  double expected = 0.0;
  for (std::size_t t = 0; t < sizes.size(); ++t) {
    grads.push_back(random_tensor({sizes[t]}, 51 + t, scales[t]));
    expected += serial->sum_of_squares(grads.back());
  }
  const double actual = run_kernels(grads);
  EXPECT_NEAR(actual, expected, 1e-6 * expected);
  EXPECT_EQ(run_kernels(grads), actual);
}

TEST(GradNormKernels, NoElementsGiveZero) {
  std::vector<Tensor> grads = {Tensor::zeros({0}), Tensor::zeros({0})};
  EXPECT_EQ(run_kernels(grads), 0.0);
}

}  // namespace
}  // namespace seqtrain::testing
