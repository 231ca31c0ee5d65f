// The softmax kernels (kernels/softmax.cu) on the CUDA emulation against the
// serial backend, fp32 and bf16 storage. The serial backend sees the inputs
// rounded to the storage type. Shapes: C = 37 and 129 (one full warp pass and a
// partial one; four full and one lane busy), N = 23 (five full 4-row blocks and
// one of three rows). Logits span [-8, 8] so the running max of the one-pass
// statistics changes often; one row has masked (-inf) entries.
#include <gtest/gtest.h>

#include <limits>
#include <vector>

#include "kernel_test_storage.h"
#include "kernels/softmax.h"
#include "test_support.h"

namespace seqtrain::testing {
namespace {

using kernels::SoftmaxBackwardArgs;
using kernels::SoftmaxForwardArgs;

template <class Storage>
void expect_softmax_matches_serial(std::int64_t rows, std::int32_t columns, bool in_place,
                                   double atol, double rtol, std::uint64_t seed) {
  Tensor x = random_tensor({rows, columns}, seed, 8.0f);
  // Row 1 keeps only its even columns, as a key mask would.
  for (std::int32_t j = 1; j < columns; j += 2)
    x.data<float>()[columns + j] = -std::numeric_limits<float>::infinity();
  x = rounded_to_storage<Storage>(x);
  const Tensor dy = rounded_to_storage<Storage>(random_tensor({rows, columns}, seed + 1));
  auto serial = make_serial_backend();
  Tensor y = Tensor::zeros({rows, columns}), dx = Tensor::zeros({rows, columns});
  serial->softmax_forward(x, y);
  const Tensor y_rounded = rounded_to_storage<Storage>(y);  // what the kernel's backward reads
  serial->softmax_backward(y_rounded, dy, dx);

  std::vector<Storage> x_values = storage_values<Storage>(x);
  std::vector<Storage> kernel_y(x_values.size(), storage_from_float<Storage>(-7.0f));
  SoftmaxForwardArgs<Storage> forward{rows, columns, x_values.data(),
                                      in_place ? x_values.data() : kernel_y.data()};
  kernels::softmax_forward(forward, nullptr);
  if (in_place) kernel_y = x_values;
  EXPECT_TRUE(tensors_close(storage_tensor(kernel_y, {rows, columns}), y, atol, rtol)) << "y";

  const std::vector<Storage> y_values = storage_values<Storage>(y_rounded);
  std::vector<Storage> dy_values = storage_values<Storage>(dy);
  std::vector<Storage> kernel_dx(dy_values.size(), storage_from_float<Storage>(-7.0f));
  SoftmaxBackwardArgs<Storage> backward{rows, columns, y_values.data(), dy_values.data(),
                                        in_place ? dy_values.data() : kernel_dx.data()};
  kernels::softmax_backward(backward, nullptr);
  if (in_place) kernel_dx = dy_values;
  EXPECT_TRUE(tensors_close(storage_tensor(kernel_dx, {rows, columns}), dx, atol, rtol)) << "dx";
}

TEST(SoftmaxKernels, ForwardAndBackwardMatchTheSerialBackend) {
  expect_softmax_matches_serial<float>(23, 37, false, 1e-6, 1e-5, 21);
  expect_softmax_matches_serial<float>(23, 129, false, 1e-6, 1e-5, 22);
}

TEST(SoftmaxKernels, InPlaceGivesTheSameResult) {
  expect_softmax_matches_serial<float>(23, 37, true, 1e-6, 1e-5, 23);
}

TEST(SoftmaxKernels, Bf16StorageWithFp32MathMatchesTheSerialBackend) {
  // Outputs are rounded to 8 bits of mantissa: relative error 2^-9.
  expect_softmax_matches_serial<__nv_bfloat16>(23, 129, false, 1e-4, 5e-3, 24);
}

}  // namespace
}  // namespace seqtrain::testing
