// The bias and activation kernels (kernels/bias_activation.cu) on the CUDA
// emulation, held against the serial backend: bias_add followed by
// activation_forward for the fused kernel, activation_forward and
// activation_backward on their own, for every activation, fp32 and bf16.
//
// Shapes are odd: 37 columns are one full 32-column tile and one of 5; 45 rows
// are 5 full groups of 8 rows and one of 5; 1003 elements are 3 full blocks of
// 256 threads and one of 235.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernel_test_storage.h"
#include "kernels/bias_activation.h"
#include "test_support.h"

namespace seqtrain::testing {
namespace {

using kernels::ActivationBackwardArgs;
using kernels::ActivationForwardArgs;
using kernels::BiasActivationForwardArgs;

const Activation kActivations[] = {Activation::sigmoid, Activation::tanh, Activation::relu,
                                   Activation::gelu, Activation::silu};

struct Tolerance {
  double atol, rtol;
};
// fp32: the same formulas in fp32; only libm's last bits may differ on a GPU.
constexpr Tolerance kFloatTolerance{1e-6, 1e-5};
// bf16: one rounding of the fp32 result to 8 mantissa bits (2^-9 relative).
constexpr Tolerance kBf16Tolerance{1e-6, 4e-3};

template <class Storage>
Tolerance tolerance() {
  return std::is_same_v<Storage, float> ? kFloatTolerance : kBf16Tolerance;
}

template <class Storage>
std::string storage_name() {
  return std::is_same_v<Storage, float> ? "fp32" : "bf16";
}

// Serial reference of act(x + bias) (identity when activation is null).
Tensor serial_bias_activation(const Tensor& x, const Tensor* bias, const Activation* activation) {
  auto serial = make_serial_backend();
  Tensor pre = x.clone();
  if (bias != nullptr) serial->bias_add(x, *bias, pre);
  if (activation == nullptr) return pre;
  Tensor out = Tensor::zeros(x.shape());
  serial->activation_forward(*activation, pre, out);
  return out;
}

template <class Storage>
void expect_bias_activation_matches_serial(std::int64_t rows, std::int32_t columns, bool with_bias,
                                           const Activation* activation) {
  SCOPED_TRACE(storage_name<Storage>() + " rows " + std::to_string(rows) + " columns " +
               std::to_string(columns) + (with_bias ? " with bias " : " without bias ") +
               (activation != nullptr ? activation_name(*activation) : "identity"));
  const Tensor x = rounded_to_storage<Storage>(random_tensor({rows, columns}, 3, 3.0f));
  const Tensor bias = random_tensor({columns}, 4, 1.0f);
  const std::vector<Storage> x_values = storage_values<Storage>(x);
  GuardedBuffer<Storage> out(rows * columns, 0, storage_from_float<Storage>(-7.0f));
  BiasActivationForwardArgs<Storage> args;
  args.activation = activation != nullptr ? *activation : Activation::identity;
  args.rows = rows;
  args.columns = columns;
  args.x = x_values.data();
  args.bias = with_bias ? bias.data<float>() : nullptr;
  args.out = out.data();
  kernels::bias_activation_forward(args, nullptr);
  const Tensor expected = serial_bias_activation(x, with_bias ? &bias : nullptr, activation);
  const Tolerance t = tolerance<Storage>();
  EXPECT_TRUE(tensors_close(storage_tensor(out.data(), x.shape()), expected, t.atol, t.rtol));
  EXPECT_TRUE(out.guards_intact());
}

TEST(BiasActivationKernels, BiasAddMatchesSerialForOddShapes) {
  for (auto [rows, columns] : {std::pair<std::int64_t, std::int32_t>{1, 1}, {45, 37}, {9, 129}}) {
    expect_bias_activation_matches_serial<float>(rows, columns, true, nullptr);
    expect_bias_activation_matches_serial<__nv_bfloat16>(rows, columns, true, nullptr);
  }
}

TEST(BiasActivationKernels, FusedBiasAndEachActivationMatchSerial) {
  for (const Activation& activation : kActivations) {
    expect_bias_activation_matches_serial<float>(45, 37, true, &activation);
    expect_bias_activation_matches_serial<__nv_bfloat16>(45, 37, true, &activation);
  }
}

TEST(BiasActivationKernels, NullBiasIsTheActivationAlone) {
  const Activation gelu = Activation::gelu;
  expect_bias_activation_matches_serial<float>(45, 37, false, &gelu);
}

// More row groups than the capped grid: each thread walks several rows.
TEST(BiasActivationKernels, RowLoopCoversMoreRowsThanTheCappedGrid) {
  const Activation tanh = Activation::tanh;
  expect_bias_activation_matches_serial<float>(8 * 256 * 2 + 13, 3, true, &tanh);
}

template <class Storage>
void expect_activation_forward_matches_serial(Activation activation, std::int64_t count) {
  SCOPED_TRACE(storage_name<Storage>() + " " + activation_name(activation) + " count " +
               std::to_string(count));
  const Tensor x = rounded_to_storage<Storage>(random_tensor({count}, 5, 3.0f));
  const std::vector<Storage> x_values = storage_values<Storage>(x);
  GuardedBuffer<Storage> y(count, 0, storage_from_float<Storage>(-7.0f));
  kernels::activation_forward(
      ActivationForwardArgs<Storage>{activation, count, x_values.data(), y.data()},
      nullptr);
  Tensor expected = Tensor::zeros({count});
  make_serial_backend()->activation_forward(activation, x, expected);
  const Tolerance t = tolerance<Storage>();
  EXPECT_TRUE(tensors_close(storage_tensor(y.data(), {count}), expected, t.atol, t.rtol));
  EXPECT_TRUE(y.guards_intact());
}

TEST(BiasActivationKernels, ActivationForwardMatchesSerial) {
  for (const Activation& activation : kActivations)
    for (std::int64_t count : {1, 1003}) {
      expect_activation_forward_matches_serial<float>(activation, count);
      expect_activation_forward_matches_serial<__nv_bfloat16>(activation, count);
    }
}

// The kernel gets only the input its derivative needs (the other is null), so a
// read of the wrong one would crash the test.
template <class Storage>
void expect_activation_backward_matches_serial(Activation activation, std::int64_t count) {
  SCOPED_TRACE(storage_name<Storage>() + " " + activation_name(activation) + " count " +
               std::to_string(count));
  auto serial = make_serial_backend();
  const Tensor x = rounded_to_storage<Storage>(random_tensor({count}, 6, 3.0f));
  Tensor y_exact = Tensor::zeros({count});
  serial->activation_forward(activation, x, y_exact);
  const Tensor y = rounded_to_storage<Storage>(y_exact);  // what the forward kernel stored
  const Tensor dy = rounded_to_storage<Storage>(random_tensor({count}, 7, 1.0f));
  const std::vector<Storage> x_values = storage_values<Storage>(x);
  const std::vector<Storage> y_values = storage_values<Storage>(y);
  const std::vector<Storage> dy_values = storage_values<Storage>(dy);
  const bool uses_output = activation == Activation::sigmoid || activation == Activation::tanh;
  GuardedBuffer<Storage> dx(count, 0, storage_from_float<Storage>(-7.0f));
  ActivationBackwardArgs<Storage> args;
  args.activation = activation;
  args.count = count;
  args.x = uses_output ? nullptr : x_values.data();
  args.y = uses_output ? y_values.data() : nullptr;
  args.dy = dy_values.data();
  args.dx = dx.data();
  kernels::activation_backward(args, nullptr);
  Tensor expected = Tensor::zeros({count});
  serial->activation_backward(activation, x, y, dy, expected);
  const Tolerance t = tolerance<Storage>();
  EXPECT_TRUE(tensors_close(storage_tensor(dx.data(), {count}), expected, t.atol, t.rtol));
  EXPECT_TRUE(dx.guards_intact());
}

TEST(BiasActivationKernels, ActivationBackwardMatchesSerial) {
  for (const Activation& activation : kActivations)
    for (std::int64_t count : {1, 1003}) {
      expect_activation_backward_matches_serial<float>(activation, count);
      expect_activation_backward_matches_serial<__nv_bfloat16>(activation, count);
    }
}

TEST(BiasActivationKernels, IdentityBackwardPassesTheGradientThrough) {
  const std::int64_t count = 37;
  const std::vector<float> x = random_tensor({count}, 8).to_vector();
  const std::vector<float> dy = random_tensor({count}, 9).to_vector();
  std::vector<float> dx(count, -7.0f);
  kernels::activation_backward(
      ActivationBackwardArgs<float>{Activation::identity, count, x.data(), nullptr, dy.data(),
                                    dx.data()},
      nullptr);
  EXPECT_EQ(dx, dy);
}

}  // namespace
}  // namespace seqtrain::testing
