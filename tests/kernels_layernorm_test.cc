// The layernorm kernels (kernels/layernorm.cu) on the CUDA emulation against the
// serial backend: y, the saved mean and rstd, dx, dgamma and dbeta, for fp32 and
// bf16 storage. The serial backend sees the inputs rounded to the storage type,
// so a bf16 run differs from it only by the rounding of the outputs and by fp32
// against double arithmetic.
//
// Shapes are odd on purpose: D = 37 (one full warp pass and a partial one) and
// D = 129 (four full passes and one lane busy); N = 70 is 17 full 4-row blocks
// and one with two rows, and two 64-row chunks for the dgamma / dbeta partial
// sums, the second of 6 rows. The workspace starts as NaN: the kernels must
// write every partial sum they read.
#include <gtest/gtest.h>

#include <limits>
#include <vector>

#include "kernel_test_storage.h"
#include "kernels/layernorm.h"
#include "test_support.h"

namespace seqtrain::testing {
namespace {

using kernels::LayernormBackwardArgs;
using kernels::LayernormForwardArgs;

struct Tolerance {
  double atol, rtol;
};

struct LayernormCase {
  std::int64_t rows;
  std::int32_t columns;
  Tensor x, gamma, beta, dy;
};

template <class Storage>
LayernormCase make_case(std::int64_t rows, std::int32_t columns, std::uint64_t seed) {
  // x with a per-column offset so rows have a mean and spread other than 0 and 1.
  Tensor x = random_tensor({rows, columns}, seed, 2.0f);
  const Tensor offset = random_tensor({columns}, seed + 1, 3.0f);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int32_t j = 0; j < columns; ++j)
      x.data<float>()[r * columns + j] += offset.data<float>()[j];
  return {rows,
          columns,
          rounded_to_storage<Storage>(x),
          random_tensor({columns}, seed + 2, 1.5f),
          random_tensor({columns}, seed + 3),
          rounded_to_storage<Storage>(random_tensor({rows, columns}, seed + 4))};
}

template <class Storage>
void expect_layernorm_matches_serial(std::int64_t rows, std::int32_t columns, Tolerance tolerance,
                                     std::uint64_t seed) {
  const LayernormCase c = make_case<Storage>(rows, columns, seed);
  const float epsilon = 1e-5f;
  auto serial = make_serial_backend();
  Tensor y = Tensor::zeros({rows, columns}), mean = Tensor::zeros({rows}),
         rstd = Tensor::zeros({rows});
  serial->layernorm_forward(c.x, c.gamma, c.beta, epsilon, y, mean, rstd);
  Tensor dx = Tensor::zeros({rows, columns}), dgamma = Tensor::zeros({columns}),
         dbeta = Tensor::zeros({columns});
  serial->layernorm_backward(c.x, c.gamma, mean, rstd, c.dy, dx, dgamma, dbeta);

  const std::vector<Storage> x = storage_values<Storage>(c.x);
  std::vector<Storage> kernel_y(static_cast<std::size_t>(rows * columns),
                                storage_from_float<Storage>(-7.0f));
  std::vector<float> kernel_mean(static_cast<std::size_t>(rows), -7.0f);
  std::vector<float> kernel_rstd(static_cast<std::size_t>(rows), -7.0f);
  LayernormForwardArgs<Storage> forward;
  forward.rows = rows;
  forward.columns = columns;
  forward.epsilon = epsilon;
  forward.x = x.data();
  forward.gamma = c.gamma.data<float>();
  forward.beta = c.beta.data<float>();
  forward.y = kernel_y.data();
  forward.mean = kernel_mean.data();
  forward.rstd = kernel_rstd.data();
  kernels::layernorm_forward(forward, nullptr);
  EXPECT_TRUE(
      tensors_close(storage_tensor(kernel_y, {rows, columns}), y, tolerance.atol, tolerance.rtol))
      << "y";
  EXPECT_TRUE(tensors_close(Tensor::from_vector(kernel_mean, {rows}), mean, 1e-5, 1e-5)) << "mean";
  EXPECT_TRUE(tensors_close(Tensor::from_vector(kernel_rstd, {rows}), rstd, 1e-5, 1e-5)) << "rstd";

  // Backward from the kernel's own saved statistics, as the CUDA backend runs it.
  const std::vector<Storage> dy = storage_values<Storage>(c.dy);
  std::vector<Storage> kernel_dx(static_cast<std::size_t>(rows * columns),
                                 storage_from_float<Storage>(-7.0f));
  std::vector<float> kernel_dgamma(static_cast<std::size_t>(columns), -7.0f);
  std::vector<float> kernel_dbeta(static_cast<std::size_t>(columns), -7.0f);
  std::vector<float> workspace(
      kernels::layernorm_backward_workspace_bytes(rows, columns) / sizeof(float),
      std::numeric_limits<float>::quiet_NaN());
  LayernormBackwardArgs<Storage> backward;
  backward.rows = rows;
  backward.columns = columns;
  backward.x = x.data();
  backward.gamma = c.gamma.data<float>();
  backward.mean = kernel_mean.data();
  backward.rstd = kernel_rstd.data();
  backward.dy = dy.data();
  backward.dx = kernel_dx.data();
  backward.dgamma = kernel_dgamma.data();
  backward.dbeta = kernel_dbeta.data();
  backward.workspace = workspace.data();
  kernels::layernorm_backward(backward, nullptr);
  EXPECT_TRUE(
      tensors_close(storage_tensor(kernel_dx, {rows, columns}), dx, tolerance.atol, tolerance.rtol))
      << "dx";
  EXPECT_TRUE(tensors_close(Tensor::from_vector(kernel_dgamma, {columns}), dgamma, tolerance.atol,
                            tolerance.rtol))
      << "dgamma";
  EXPECT_TRUE(tensors_close(Tensor::from_vector(kernel_dbeta, {columns}), dbeta, tolerance.atol,
                            tolerance.rtol))
      << "dbeta";

  // The column sums are in a fixed order: a second run repeats them bit for bit.
  const std::vector<float> first_dgamma = kernel_dgamma, first_dbeta = kernel_dbeta;
  kernels::layernorm_backward(backward, nullptr);
  EXPECT_EQ(kernel_dgamma, first_dgamma);
  EXPECT_EQ(kernel_dbeta, first_dbeta);
}

// fp32 against the serial backend's double sums: rounding and order only.
constexpr Tolerance kFloatTolerance{1e-5, 1e-5};
// bf16 outputs carry a relative rounding error of 2^-9; dgamma and dbeta are
// fp32 sums of exactly the values serial sees.
constexpr Tolerance kBf16Tolerance{1e-2, 1e-2};

TEST(LayernormKernels, ForwardAndBackwardMatchTheSerialBackendAcrossRowChunks) {
  expect_layernorm_matches_serial<float>(70, 37, kFloatTolerance, 11);
}

TEST(LayernormKernels, WideRowsWithAPartialWarpPassMatchTheSerialBackend) {
  expect_layernorm_matches_serial<float>(9, 129, kFloatTolerance, 12);
}

TEST(LayernormKernels, Bf16StorageWithFp32MathMatchesTheSerialBackend) {
  expect_layernorm_matches_serial<__nv_bfloat16>(70, 37, kBf16Tolerance, 13);
}

TEST(LayernormKernels, Bf16WideRowsMatchTheSerialBackend) {
  expect_layernorm_matches_serial<__nv_bfloat16>(9, 129, kBf16Tolerance, 14);
}

TEST(LayernormKernels, NoRowsGiveZeroParameterGradients) {
  std::vector<float> dgamma(40, -7.0f), dbeta(40, -7.0f);
  LayernormBackwardArgs<float> backward;
  backward.rows = 0;
  backward.columns = 40;
  backward.dgamma = dgamma.data();
  backward.dbeta = dbeta.data();
  kernels::layernorm_backward(backward, nullptr);
  for (std::size_t j = 0; j < dgamma.size(); ++j) {
    EXPECT_EQ(dgamma[j], 0.0f);
    EXPECT_EQ(dbeta[j], 0.0f);
  }
}

}  // namespace
}  // namespace seqtrain::testing
