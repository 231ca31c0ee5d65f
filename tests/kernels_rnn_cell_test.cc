// The tanh-RNN cell kernels (kernels/rnn_cell.cu) and the bias-gradient kernel
// run on the CUDA emulation, driven step by step the way the CUDA backend drives
// them (input projection, per-step recurrent GEMM straight into y[t], cell
// kernel in place; backward: cell kernel, dh += gate_grads W_hh; bias gradient
// over all steps), held against the serial backend's recurrent layer: outputs,
// final state, gate gradients, dh0 and the bias gradients. The GEMMs here are
// plain loops in double.
//
// Sizes are odd on purpose: H = 37 and B = 7 give 259 (row, unit) pairs, two
// blocks of 256 threads of which the second has 3 busy; H = 37 bias columns are
// one full column tile of 32 and one of 5. Lengths are packed (1 to T).
#include <gtest/gtest.h>

#include <vector>

#include "kernel_rnn_layer_support.h"
#include "kernels/rnn_cell.h"

namespace seqtrain::testing {
namespace {

using kernels::RnnCellBackwardArgs;
using kernels::RnnCellForwardArgs;

// The tanh-RNN's own part of the step-by-step drive: it saves nothing (the
// recurrent GEMM writes y[t], which the cell kernel overwrites in place), and
// its backward needs only the step's output.
template <class Storage>
struct RnnKernelLayer {
  KernelRnnLayer<Storage> layer;
  std::vector<float> dbias;

  explicit RnnKernelLayer(const SerialRnnLayer& s) : layer(s) {
    layer.run_forward(RnnCellForwardArgs<Storage>{},
                      [&](auto& args, std::int64_t) { kernels::rnn_cell_forward(args, nullptr); });
    layer.run_backward(RnnCellBackwardArgs<Storage>{}, [&](auto& args, std::int64_t t) {
      args.y = layer.y.data() + t * layer.batch * layer.hidden;
      kernels::rnn_cell_backward(args, nullptr);
      return args.gate_grads;
    });
    dbias = layer.bias_grad(layer.gate_grads);
  }

  void expect_cell_results_match(const CellKernelTolerances& tolerances) const {
    const SerialRnnLayer& serial = layer.serial;
    expect_close(dbias, serial.dbias_ih, tolerances.bias_grads, "dbias_ih");
    expect_close(dbias, serial.dbias_hh, tolerances.bias_grads, "dbias_hh");
  }
};

// The tanh-RNN cell for the shared cases (kernel_rnn_layer_support.h).
struct TanhRnnCellUnderTest {
  template <class Storage>
  using KernelLayer = RnnKernelLayer<Storage>;
  static constexpr RnnCell cell = RnnCell::rnn_tanh;
  static constexpr std::uint64_t forward_seed = 606, reverse_seed = 505;
  static constexpr CellKernelTolerances float_tolerances = kFp32CellKernelTolerances;
  // bf16 storage rounds h and the gate gradients to 8 bits of mantissa every step,
  // and the rounded gate gradients feed dh through W_hh, so errors compound
  // backwards through time. The bias gradient sums T * B = 28 of them, with
  // cancellation: the worst element seen is 0.027 off (of 0.046).
  static constexpr Tolerance kBf16{1e-2, 2e-2};
  static constexpr CellKernelTolerances bf16_tolerances{kBf16, kBf16, {4e-2, 2e-2}};
};

INSTANTIATE_TYPED_TEST_SUITE_P(RnnCellKernels, RecurrentCellKernels, TanhRnnCellUnderTest);

}  // namespace
}  // namespace seqtrain::testing
