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

// The LSTM's own part of the step-by-step drive: the cell state c and its
// gradient dc, which stay fp32, and the bias gradient.
template <class Storage>
struct LstmKernelLayer {
  KernelRnnLayer<Storage> layer;
  std::vector<float> c, dc, dbias;

  explicit LstmKernelLayer(const SerialRnnLayer& s) : layer(s) {
    c = s.initial_state
            ? s.c0.to_vector()
            : std::vector<float>(static_cast<std::size_t>(layer.batch * layer.hidden), 0.0f);
    layer.run_forward(LstmCellForwardArgs<Storage>{}, [&](auto& args, std::int64_t t) {
      args.c = c.data();
      args.saved = layer.workspace_of_step(t);
      kernels::lstm_cell_forward(args, nullptr);
    });
    dc = s.dc_n.to_vector();
    layer.run_backward(LstmCellBackwardArgs<Storage>{}, [&](auto& args, std::int64_t t) {
      args.reverse = s.reverse;
      args.saved = layer.workspace_of_step(t);
      // Its c slot is c_{t-1}.
      args.previous_saved = layer.previous_step(layer.workspace, layer.workspace_width, t);
      args.c0 = s.initial_state ? s.c0.data<float>() : nullptr;
      args.dc = dc.data();
      kernels::lstm_cell_backward(args, nullptr);
      return args.gate_grads;
    });
    dbias = layer.bias_grad(layer.gate_grads);
  }

  void expect_cell_results_match(const CellKernelTolerances& tolerances) const {
    const SerialRnnLayer& serial = layer.serial;
    expect_close(c, serial.c_n, tolerances.forward, "c_n");
    expect_close(dc, serial.dc0, tolerances.backward, "dc0");
    expect_close(dbias, serial.dbias_ih, tolerances.bias_grads, "dbias_ih");
    expect_close(dbias, serial.dbias_hh, tolerances.bias_grads, "dbias_hh");
  }
};

// The LSTM cell for the shared cases (kernel_rnn_layer_support.h).
struct LstmCellUnderTest {
  template <class Storage>
  using KernelLayer = LstmKernelLayer<Storage>;
  static constexpr RnnCell cell = RnnCell::lstm;
  static constexpr std::uint64_t forward_seed = 202, reverse_seed = 101;
  static constexpr CellKernelTolerances float_tolerances = kFp32CellKernelTolerances;
  // bf16 storage rounds h, activations and gate gradients to 8 bits of mantissa
  // (relative error 2^-9) every step; over 4 steps the worst errors seen are
  // about 1% (bias gradients) and 0.006 absolute (saved gates).
  static constexpr Tolerance kBf16{1e-2, 2e-2};
  static constexpr CellKernelTolerances bf16_tolerances{kBf16, kBf16, kBf16};
};

INSTANTIATE_TYPED_TEST_SUITE_P(LstmCellKernels, RecurrentCellKernels, LstmCellUnderTest);

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
