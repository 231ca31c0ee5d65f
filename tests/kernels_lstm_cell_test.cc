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

#include <vector>

#include "kernel_rnn_layer_support.h"
#include "kernels/bias_grad.h"
#include "kernels/lstm_cell.h"

namespace seqtrain::testing {
namespace {

using kernels::BiasGradArgs;
using kernels::LstmCellBackwardArgs;
using kernels::LstmCellForwardArgs;

// The kernels driven over all steps as the CUDA backend will drive them.
template <class Storage>
struct KernelLayer {
  std::vector<Storage> y, h, saved, gate_grads;
  std::vector<float> c, dh, dc, dbias;

  explicit KernelLayer(const SerialRnnLayer& s) {
    const std::int64_t T = s.shape.steps, B = s.shape.batch, I = s.shape.input, H = s.shape.hidden,
                       G = 4 * H;
    const auto* lengths = s.lengths.data<std::int32_t>();
    // Forward: one input-projection GEMM, then per step the recurrent GEMM into
    // the step's workspace gate slots (stride 5H) and the cell kernel in place.
    const std::vector<Storage> x = storage_values<Storage>(s.x);
    std::vector<Storage> projection(static_cast<std::size_t>(T * B * G));
    gemm_transposed_b(x.data(), s.weight_ih.data<float>(), T * B, G, I, projection.data(), G);
    y.assign(static_cast<std::size_t>(T * B * H), storage_from_float<Storage>(-7.0f));
    saved.assign(static_cast<std::size_t>(T * B * 5 * H), storage_from_float<Storage>(-7.0f));
    h = s.initial_state ? storage_values<Storage>(s.h0)
                        : std::vector<Storage>(static_cast<std::size_t>(B * H),
                                               storage_from_float<Storage>(0.0f));
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
    const std::vector<Storage> dy = storage_values<Storage>(s.dy);
    dh = s.dh_n.to_vector();
    dc = s.dc_n.to_vector();
    gate_grads.assign(static_cast<std::size_t>(T * B * G), storage_from_float<Storage>(-7.0f));
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
      add_gemm(args.gate_grads, s.weight_hh.data<float>(), B, G, H, dh.data());
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

template <class Storage>
void expect_kernels_match_serial(bool reverse, bool initial_state, Tolerance forward,
                                 Tolerance backward) {
  const SerialRnnLayer serial(RnnCell::lstm, RnnLayerShape{}, reverse, initial_state,
                              reverse ? 101 : 202);
  const KernelLayer<Storage> kernel(serial);
  const RnnLayerShape& n = serial.shape;
  const Shape state{n.batch, n.hidden};
  EXPECT_TRUE(tensors_close(storage_tensor(kernel.y, serial.y.shape()), serial.y, forward.atol,
                            forward.rtol))
      << "y";
  EXPECT_TRUE(
      tensors_close(storage_tensor(kernel.h, state), serial.h_n, forward.atol, forward.rtol))
      << "h_n";
  EXPECT_TRUE(
      tensors_close(Tensor::from_vector(kernel.c, state), serial.c_n, forward.atol, forward.rtol))
      << "c_n";
  EXPECT_TRUE(tensors_close(storage_tensor(kernel.saved, serial.workspace.shape()),
                            serial.workspace, forward.atol, forward.rtol))
      << "workspace (i, f, g, o, c)";
  EXPECT_TRUE(tensors_close(storage_tensor(kernel.gate_grads, serial.gate_grads.shape()),
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
