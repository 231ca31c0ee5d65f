// The GRU cell kernels (kernels/gru_cell.cu) and the bias-gradient kernel run on
// the CUDA emulation, driven step by step the way the CUDA backend drives them
// (input projection, per-step recurrent GEMM into the step's workspace, cell
// kernel; backward: cell kernel, dh += hidden_gate_grads W_hh; bias and
// recurrent-weight gradients over all steps), held against the serial backend's
// recurrent layer: outputs, final state, saved r, z, n, hn, gate gradients,
// dh0, db_ih, db_hh and dW_hh (which checks the hidden-side gate gradients the
// serial backend does not expose). The GEMMs here are plain loops in double.
//
// Sizes are odd on purpose: H = 37 and B = 7 give 259 (row, unit) pairs, two
// blocks of 256 threads of which the second has 3 busy; 3H = 111 bias columns
// are 3 full column tiles of 32 and one of 15. Lengths are packed (1 to T).
#include <gtest/gtest.h>

#include <vector>

#include "kernel_rnn_layer_support.h"
#include "kernels/gru_cell.h"

namespace seqtrain::testing {
namespace {

using kernels::GruCellBackwardArgs;
using kernels::GruCellForwardArgs;

// The GRU's own part of the step-by-step drive: the hidden-side gate gradients
// (the ones that reach h_{t-1} through W_hh), both bias gradients and dW_hh.
template <class Storage>
struct GruKernelLayer {
  KernelRnnLayer<Storage> layer;
  std::vector<Storage> hidden_gate_grads;
  std::vector<float> dbias_ih, dbias_hh, dweight_hh;

  explicit GruKernelLayer(const SerialRnnLayer& s) : layer(s) {
    layer.run_forward(GruCellForwardArgs<Storage>{}, [&](auto& args, std::int64_t t) {
      args.saved = layer.workspace_of_step(t);
      kernels::gru_cell_forward(args, nullptr);
    });
    hidden_gate_grads = layer.gate_grads;
    layer.run_backward(GruCellBackwardArgs<Storage>{}, [&](auto& args, std::int64_t t) {
      args.reverse = s.reverse;
      args.saved = layer.workspace_of_step(t);
      args.previous_y = layer.previous_step(layer.y, layer.hidden, t);
      args.h0 = s.initial_state ? layer.h0.data() : nullptr;
      args.hidden_gate_grads = hidden_gate_grads.data() + t * layer.batch * layer.gate_width;
      kernels::gru_cell_backward(args, nullptr);
      return args.hidden_gate_grads;
    });
    dbias_ih = layer.bias_grad(layer.gate_grads);
    dbias_hh = layer.bias_grad(hidden_gate_grads);

    // dW_hh = sum over the valid (step, row) pairs of hidden_gate_grads^T h_{t-1}
    // (one GEMM on the GPU, where padded rows contribute their zero gradients).
    const std::int64_t T = layer.steps, B = layer.batch, H = layer.hidden, G = layer.gate_width;
    const std::int32_t* lengths = layer.lengths;
    std::vector<double> sums(static_cast<std::size_t>(G * H), 0.0);
    for (std::int64_t t = 0; t < T; ++t)
      for (std::int64_t b = 0; b < B; ++b) {
        if (t >= lengths[b]) continue;
        const bool first = s.reverse ? t == lengths[b] - 1 : t == 0;
        const std::int64_t previous = s.reverse ? t + 1 : t - 1;
        for (std::int64_t k = 0; k < H; ++k) {
          float previous_h = 0.0f;
          if (!first)
            previous_h = storage_to_float(layer.y[(previous * B + b) * H + k]);
          else if (s.initial_state)
            previous_h = storage_to_float(layer.h0[b * H + k]);
          for (std::int64_t r = 0; r < G; ++r)
            sums[r * H + k] +=
                static_cast<double>(storage_to_float(hidden_gate_grads[(t * B + b) * G + r])) *
                previous_h;
        }
      }
    dweight_hh.assign(sums.begin(), sums.end());
  }

  void expect_cell_results_match(const CellKernelTolerances& tolerances) const {
    const SerialRnnLayer& serial = layer.serial;
    expect_close(dbias_ih, serial.dbias_ih, tolerances.bias_grads, "dbias_ih");
    expect_close(dbias_hh, serial.dbias_hh, tolerances.bias_grads, "dbias_hh");
    expect_close(dweight_hh, serial.dweight_hh, tolerances.backward, "dweight_hh");
  }
};

// The GRU cell for the shared cases (kernel_rnn_layer_support.h).
struct GruCellUnderTest {
  template <class Storage>
  using KernelLayer = GruKernelLayer<Storage>;
  static constexpr RnnCell cell = RnnCell::gru;
  static constexpr std::uint64_t forward_seed = 404, reverse_seed = 303;
  static constexpr CellKernelTolerances float_tolerances = kFp32CellKernelTolerances;
  // bf16 storage rounds h, activations and gate gradients to 8 bits of mantissa
  // (relative error 2^-9) every step.
  static constexpr Tolerance kBf16{1e-2, 2e-2};
  static constexpr CellKernelTolerances bf16_tolerances{kBf16, kBf16, kBf16};
};

INSTANTIATE_TYPED_TEST_SUITE_P(GruCellKernels, RecurrentCellKernels, GruCellUnderTest);

}  // namespace
}  // namespace seqtrain::testing
