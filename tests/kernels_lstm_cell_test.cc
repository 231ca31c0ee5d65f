// The LSTM cell kernels (kernels/lstm_cell.cu) and the bias-gradient kernel
// (kernels/bias_grad.cu) run on the CUDA emulation, driven step by step the way
// the CUDA backend drives them (input projection, per-step recurrent GEMM into
// the step's workspace, cell kernel; backward: cell kernel, dh += gate_grads W_hh;
// bias gradient over all steps), held against the serial backend's recurrent
// layer: outputs, final state, saved activations, gate gradients, dh0, dc0 and
// the bias gradients. The GEMMs here are plain loops in double.
//
// Sizes are odd on purpose: H = 37 and B = 7 give 259 (row, unit) pairs, two
// blocks of 256 threads of which the second has 3 busy; 4H = 148 bias columns
// are 4 full column tiles of 32 and one of 20. Lengths are packed (1 to T).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "kernels/bias_grad.h"
#include "kernels/lstm_cell.h"
#include "test_support.h"

namespace seqtrain::testing {
namespace {

using kernels::BiasGradArgs;
using kernels::LstmCellBackwardArgs;
using kernels::LstmCellForwardArgs;

struct LayerShape {
  std::int64_t steps = 4, batch = 7, input = 5, hidden = 37;
  std::vector<std::int32_t> lengths = {4, 1, 3, 4, 2, 4, 3};
};

// The serial backend's layer, forward and backward, on random inputs.
struct SerialLayer {
  LayerShape shape;
  bool reverse = false;
  bool initial_state = true;
  Tensor x, weight_ih, weight_hh, bias_ih, bias_hh, h0, c0, lengths;
  Tensor y, h_n, c_n, workspace, input_projection;
  Tensor dy, dh_n, dc_n;
  Tensor dx, dweight_ih, dweight_hh, dbias_ih, dbias_hh, dh0, dc0, gate_grads;

  SerialLayer(const LayerShape& s, bool reverse_layer, bool with_initial_state, std::uint64_t seed)
      : shape(s), reverse(reverse_layer), initial_state(with_initial_state) {
    const std::int64_t T = s.steps, B = s.batch, I = s.input, H = s.hidden, G = 4 * H;
    x = random_tensor({T, B, I}, seed);
    weight_ih = random_tensor({G, I}, seed + 1, 0.5f);
    weight_hh = random_tensor({G, H}, seed + 2, 0.3f);
    bias_ih = random_tensor({G}, seed + 3, 0.5f);
    bias_hh = random_tensor({G}, seed + 4, 0.5f);
    h0 = random_tensor({B, H}, seed + 5);
    c0 = random_tensor({B, H}, seed + 6);
    lengths = Tensor::from_vector(s.lengths, {B});
    y = Tensor::zeros({T, B, H});
    h_n = Tensor::zeros({B, H});
    c_n = Tensor::zeros({B, H});
    workspace = Tensor::zeros({T, B, 5 * H});
    input_projection = Tensor::zeros({T, B, G});
    dy = random_tensor({T, B, H}, seed + 7);
    dh_n = random_tensor({B, H}, seed + 8);
    dc_n = random_tensor({B, H}, seed + 9);
    dx = Tensor::zeros({T, B, I});
    dweight_ih = Tensor::zeros({G, I});
    dweight_hh = Tensor::zeros({G, H});
    dbias_ih = Tensor::zeros({G});
    dbias_hh = Tensor::zeros({G});
    dh0 = Tensor::zeros({B, H});
    dc0 = Tensor::zeros({B, H});
    gate_grads = Tensor::zeros({T, B, G});

    auto serial = make_serial_backend();
    const Tensor* h0_or_null = initial_state ? &h0 : nullptr;
    const Tensor* c0_or_null = initial_state ? &c0 : nullptr;
    serial->rnn_forward({RnnCell::lstm, reverse, &x, &weight_ih, &weight_hh, &bias_ih, &bias_hh,
                         h0_or_null, c0_or_null, &lengths, &y, &h_n, &c_n, &workspace,
                         &input_projection});
    serial->rnn_backward({RnnCell::lstm, reverse,  &x,          &weight_ih,  &weight_hh, h0_or_null,
                          c0_or_null,    &lengths, &y,          &workspace,  &dy,        &dh_n,
                          &dc_n,         &dx,      &dweight_ih, &dweight_hh, &dbias_ih,  &dbias_hh,
                          &dh0,          &dc0,     &gate_grads});
  }
};

float to_float(float value) {
  return value;
}
float to_float(__nv_bfloat16 value) {
  return __bfloat162float(value);
}

template <class Storage>
Storage from_float(float value) {
  if constexpr (std::is_same_v<Storage, float>)
    return value;
  else
    return __float2bfloat16(value);
}

template <class Storage>
std::vector<Storage> to_storage(const Tensor& tensor) {
  std::vector<Storage> out;
  for (float value : tensor.to_vector()) out.push_back(from_float<Storage>(value));
  return out;
}

template <class Storage>
Tensor as_tensor(const std::vector<Storage>& values, const Shape& shape) {
  std::vector<float> floats;
  for (const Storage& value : values) floats.push_back(to_float(value));
  return Tensor::from_vector(floats, shape);
}

// out[r * out_stride + c] = sum_k a[r * K + k] w[c * K + k] for r < rows, c < columns.
template <class A, class Out>
void gemm_transposed_b(const A* a, const float* w, std::int64_t rows, std::int64_t columns,
                       std::int64_t K, Out* out, std::int64_t out_stride) {
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < columns; ++c) {
      double sum = 0.0;
      for (std::int64_t k = 0; k < K; ++k)
        sum += static_cast<double>(to_float(a[r * K + k])) * w[c * K + k];
      out[r * out_stride + c] = from_float<Out>(static_cast<float>(sum));
    }
}

// The kernels driven over all steps as the CUDA backend will drive them.
template <class Storage>
struct KernelLayer {
  std::vector<Storage> y, h, saved, gate_grads;
  std::vector<float> c, dh, dc, dbias;

  explicit KernelLayer(const SerialLayer& s) {
    const std::int64_t T = s.shape.steps, B = s.shape.batch, I = s.shape.input, H = s.shape.hidden,
                       G = 4 * H;
    const auto* lengths = s.lengths.data<std::int32_t>();
    // Forward: one input-projection GEMM, then per step the recurrent GEMM into
    // the step's workspace gate slots (stride 5H) and the cell kernel in place.
    const std::vector<Storage> x = to_storage<Storage>(s.x);
    std::vector<Storage> projection(static_cast<std::size_t>(T * B * G));
    gemm_transposed_b(x.data(), s.weight_ih.data<float>(), T * B, G, I, projection.data(), G);
    y.assign(static_cast<std::size_t>(T * B * H), from_float<Storage>(-7.0f));
    saved.assign(static_cast<std::size_t>(T * B * 5 * H), from_float<Storage>(-7.0f));
    h = s.initial_state
            ? to_storage<Storage>(s.h0)
            : std::vector<Storage>(static_cast<std::size_t>(B * H), from_float<Storage>(0.0f));
    c = s.initial_state ? s.c0.to_vector()
                        : std::vector<float>(static_cast<std::size_t>(B * H), 0.0f);
    for (std::int64_t position = 0; position < T; ++position) {
      const std::int64_t t = s.reverse ? T - 1 - position : position;
      Storage* saved_step = saved.data() + t * B * 5 * H;
      gemm_transposed_b(h.data(), s.weight_hh.data<float>(), B, G, H, saved_step, 5 * H);
      LstmCellForwardArgs<Storage> args;
      args.batch = static_cast<std::int32_t>(B);
      args.hidden = static_cast<std::int32_t>(H);
      args.step = static_cast<std::int32_t>(t);
      args.lengths = lengths;
      args.input_projection = projection.data() + t * B * G;
      args.recurrent = saved_step;
      args.recurrent_stride = 5 * H;
      args.bias_ih = s.bias_ih.data<float>();
      args.bias_hh = s.bias_hh.data<float>();
      args.h = h.data();
      args.c = c.data();
      args.y = y.data() + t * B * H;
      args.saved = saved_step;
      kernels::lstm_cell_forward(args, nullptr);
    }

    // Backward: per step the cell kernel, then dh += gate_grads[t] W_hh.
    const std::vector<Storage> dy = to_storage<Storage>(s.dy);
    dh = s.dh_n.to_vector();
    dc = s.dc_n.to_vector();
    gate_grads.assign(static_cast<std::size_t>(T * B * G), from_float<Storage>(-7.0f));
    const float* weight_hh = s.weight_hh.data<float>();
    for (std::int64_t position = 0; position < T; ++position) {
      const std::int64_t t = s.reverse ? position : T - 1 - position;
      const std::int64_t previous = s.reverse ? t + 1 : t - 1;
      LstmCellBackwardArgs<Storage> args;
      args.batch = static_cast<std::int32_t>(B);
      args.hidden = static_cast<std::int32_t>(H);
      args.step = static_cast<std::int32_t>(t);
      args.reverse = s.reverse;
      args.lengths = lengths;
      args.saved = saved.data() + t * B * 5 * H;
      args.previous_saved =
          previous >= 0 && previous < T ? saved.data() + previous * B * 5 * H : nullptr;
      args.c0 = s.initial_state ? s.c0.data<float>() : nullptr;
      args.dy = dy.data() + t * B * H;
      args.dh = dh.data();
      args.dc = dc.data();
      args.gate_grads = gate_grads.data() + t * B * G;
      kernels::lstm_cell_backward(args, nullptr);
      const Storage* step_grads = args.gate_grads;
      for (std::int64_t b = 0; b < B; ++b)
        for (std::int64_t k = 0; k < H; ++k) {
          double sum = 0.0;
          for (std::int64_t r = 0; r < G; ++r)
            sum += static_cast<double>(to_float(step_grads[b * G + r])) * weight_hh[r * H + k];
          dh[b * H + k] += static_cast<float>(sum);
        }
    }

    dbias.assign(static_cast<std::size_t>(G), -7.0f);
    BiasGradArgs<Storage> bias_args;
    bias_args.rows = T * B;
    bias_args.columns = static_cast<std::int32_t>(G);
    bias_args.dy = gate_grads.data();
    bias_args.bias_grad = dbias.data();
    kernels::bias_grad(bias_args, nullptr);
  }
};

struct Tolerance {
  double atol, rtol;
};

template <class Storage>
void expect_kernels_match_serial(bool reverse, bool initial_state, Tolerance forward,
                                 Tolerance backward) {
  const SerialLayer serial(LayerShape{}, reverse, initial_state, reverse ? 101 : 202);
  const KernelLayer<Storage> kernel(serial);
  const LayerShape& n = serial.shape;
  const Shape state{n.batch, n.hidden};
  EXPECT_TRUE(
      tensors_close(as_tensor(kernel.y, serial.y.shape()), serial.y, forward.atol, forward.rtol))
      << "y";
  EXPECT_TRUE(tensors_close(as_tensor(kernel.h, state), serial.h_n, forward.atol, forward.rtol))
      << "h_n";
  EXPECT_TRUE(
      tensors_close(Tensor::from_vector(kernel.c, state), serial.c_n, forward.atol, forward.rtol))
      << "c_n";
  EXPECT_TRUE(tensors_close(as_tensor(kernel.saved, serial.workspace.shape()), serial.workspace,
                            forward.atol, forward.rtol))
      << "workspace (i, f, g, o, c)";
  EXPECT_TRUE(tensors_close(as_tensor(kernel.gate_grads, serial.gate_grads.shape()),
                            serial.gate_grads, backward.atol, backward.rtol))
      << "gate_grads";
  EXPECT_TRUE(tensors_close(Tensor::from_vector(kernel.dh, state), serial.dh0, backward.atol,
                            backward.rtol))
      << "dh0";
  EXPECT_TRUE(tensors_close(Tensor::from_vector(kernel.dc, state), serial.dc0, backward.atol,
                            backward.rtol))
      << "dc0";
  const Tensor dbias = Tensor::from_vector(kernel.dbias, serial.dbias_ih.shape());
  EXPECT_TRUE(tensors_close(dbias, serial.dbias_ih, backward.atol, backward.rtol)) << "dbias_ih";
  EXPECT_TRUE(tensors_close(dbias, serial.dbias_hh, backward.atol, backward.rtol)) << "dbias_hh";
}

// fp32: the kernels differ from serial by float rounding and summation order only.
constexpr Tolerance kFloatTolerance{2e-6, 2e-5};
// bf16 storage rounds h, activations and gate gradients to 8 bits of mantissa
// (relative error 2^-9) every step; over 4 steps the worst errors seen are
// about 1% (bias gradients) and 0.006 absolute (saved gates).
constexpr Tolerance kBf16Tolerance{1e-2, 2e-2};

TEST(LstmCellKernels, ForwardAndBackwardStepsMatchTheSerialLayer) {
  expect_kernels_match_serial<float>(false, true, kFloatTolerance, kFloatTolerance);
}

TEST(LstmCellKernels, ReverseLayerStartsAtEachRowsLastStep) {
  expect_kernels_match_serial<float>(true, true, kFloatTolerance, kFloatTolerance);
}

TEST(LstmCellKernels, MissingInitialStateIsZero) {
  expect_kernels_match_serial<float>(false, false, kFloatTolerance, kFloatTolerance);
  expect_kernels_match_serial<float>(true, false, kFloatTolerance, kFloatTolerance);
}

TEST(LstmCellKernels, Bf16StorageWithFp32MathMatchesTheSerialLayer) {
  expect_kernels_match_serial<__nv_bfloat16>(false, true, kBf16Tolerance, kBf16Tolerance);
  expect_kernels_match_serial<__nv_bfloat16>(true, true, kBf16Tolerance, kBf16Tolerance);
}

// ---- the bias gradient on its own --------------------------------------------------

std::vector<float> run_bias_grad(const std::vector<float>& dy, std::int64_t rows,
                                 std::int32_t columns) {
  std::vector<float> sums(static_cast<std::size_t>(columns), -7.0f);
  kernels::bias_grad(BiasGradArgs<float>{rows, columns, dy.data(), sums.data()}, nullptr);
  return sums;
}

TEST(BiasGradKernel, ColumnSumsMatchAPlainSumForOddShapesAndRepeatExactly) {
  const std::int64_t rows = 45;
  const std::int32_t columns = 70;  // two full column tiles and one of 6
  const Tensor dy = random_tensor({rows, columns}, 5);
  const std::vector<float> values = dy.to_vector();
  std::vector<float> expected(columns, 0.0f);
  for (std::int32_t c = 0; c < columns; ++c) {
    double sum = 0.0;
    for (std::int64_t r = 0; r < rows; ++r) sum += values[r * columns + c];
    expected[c] = static_cast<float>(sum);
  }
  const std::vector<float> sums = run_bias_grad(values, rows, columns);
  EXPECT_TRUE(tensors_close(Tensor::from_vector(sums, {columns}),
                            Tensor::from_vector(expected, {columns}), 1e-5, 1e-5));
  EXPECT_EQ(run_bias_grad(values, rows, columns), sums);  // fixed order: bit for bit
}

TEST(BiasGradKernel, NoRowsGiveZeros) {
  const std::vector<float> sums = run_bias_grad({}, 0, 40);
  for (float sum : sums) EXPECT_EQ(sum, 0.0f);
}

}  // namespace
}  // namespace seqtrain::testing
