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
#include "kernels/bias_grad.h"
#include "kernels/rnn_cell.h"

namespace seqtrain::testing {
namespace {

using kernels::BiasGradArgs;
using kernels::RnnCellBackwardArgs;
using kernels::RnnCellForwardArgs;

// The kernels driven over all steps as the CUDA backend will drive them.
template <class Storage>
struct RnnKernelLayer {
  std::vector<Storage> y, h, gate_grads;
  std::vector<float> dh, dbias;

  explicit RnnKernelLayer(const SerialRnnLayer& s) {
    const std::int64_t T = s.shape.steps, B = s.shape.batch, I = s.shape.input, H = s.shape.hidden;
    const auto* lengths = s.lengths.data<std::int32_t>();
    const std::vector<Storage> x = storage_values<Storage>(s.x);
    std::vector<Storage> projection(static_cast<std::size_t>(T * B * H));
    gemm_transposed_b(x.data(), s.weight_ih.data<float>(), T * B, H, I, projection.data(), H);
    y.assign(static_cast<std::size_t>(T * B * H), storage_from_float<Storage>(-7.0f));
    h = s.initial_state ? storage_values<Storage>(s.h0)
                        : std::vector<Storage>(static_cast<std::size_t>(B * H),
                                               storage_from_float<Storage>(0.0f));
    for (std::int64_t position = 0; position < T; ++position) {
      const std::int64_t t = s.reverse ? T - 1 - position : position;
      Storage* y_step = y.data() + t * B * H;
      gemm_transposed_b(h.data(), s.weight_hh.data<float>(), B, H, H, y_step, H);
      RnnCellForwardArgs<Storage> args;
      args.batch = static_cast<std::int32_t>(B);
      args.hidden = static_cast<std::int32_t>(H);
      args.step = static_cast<std::int32_t>(t);
      args.lengths = lengths;
      args.input_projection = projection.data() + t * B * H;
      args.recurrent = y_step;
      args.recurrent_stride = H;
      args.bias_ih = s.bias_ih.data<float>();
      args.bias_hh = s.bias_hh.data<float>();
      args.h = h.data();
      args.y = y_step;
      kernels::rnn_cell_forward(args, nullptr);
    }

    const std::vector<Storage> dy = storage_values<Storage>(s.dy);
    dh = s.dh_n.to_vector();
    gate_grads.assign(static_cast<std::size_t>(T * B * H), storage_from_float<Storage>(-7.0f));
    for (std::int64_t position = 0; position < T; ++position) {
      const std::int64_t t = s.reverse ? position : T - 1 - position;
      RnnCellBackwardArgs<Storage> args;
      args.batch = static_cast<std::int32_t>(B);
      args.hidden = static_cast<std::int32_t>(H);
      args.step = static_cast<std::int32_t>(t);
      args.lengths = lengths;
      args.y = y.data() + t * B * H;
      args.dy = dy.data() + t * B * H;
      args.dh = dh.data();
      args.gate_grads = gate_grads.data() + t * B * H;
      kernels::rnn_cell_backward(args, nullptr);
      add_gemm(args.gate_grads, s.weight_hh.data<float>(), B, H, H, dh.data());
    }

    dbias.assign(static_cast<std::size_t>(H), -7.0f);
    kernels::bias_grad(
        BiasGradArgs<Storage>{T * B, static_cast<std::int32_t>(H), gate_grads.data(), dbias.data()},
        nullptr);
  }
};

template <class Storage>
void expect_kernels_match_serial(bool reverse, bool initial_state, Tolerance forward,
                                 Tolerance backward, Tolerance bias) {
  const SerialRnnLayer serial(RnnCell::rnn_tanh, RnnLayerShape{}, reverse, initial_state,
                              reverse ? 505 : 606);
  const RnnKernelLayer<Storage> kernel(serial);
  const RnnLayerShape& n = serial.shape;
  const Shape state{n.batch, n.hidden};
  EXPECT_TRUE(tensors_close(storage_tensor(kernel.y, serial.y.shape()), serial.y, forward.atol,
                            forward.rtol))
      << "y";
  EXPECT_TRUE(
      tensors_close(storage_tensor(kernel.h, state), serial.h_n, forward.atol, forward.rtol))
      << "h_n";
  EXPECT_TRUE(tensors_close(storage_tensor(kernel.gate_grads, serial.gate_grads.shape()),
                            serial.gate_grads, backward.atol, backward.rtol))
      << "gate_grads";
  EXPECT_TRUE(tensors_close(Tensor::from_vector(kernel.dh, state), serial.dh0, backward.atol,
                            backward.rtol))
      << "dh0";
  const Tensor dbias = Tensor::from_vector(kernel.dbias, serial.dbias_ih.shape());
  EXPECT_TRUE(tensors_close(dbias, serial.dbias_ih, bias.atol, bias.rtol)) << "dbias_ih";
  EXPECT_TRUE(tensors_close(dbias, serial.dbias_hh, bias.atol, bias.rtol)) << "dbias_hh";
}

// fp32: the kernels differ from serial by float rounding and summation order only.
constexpr Tolerance kFloatTolerance{2e-6, 2e-5};
// bf16 storage rounds h and the gate gradients to 8 bits of mantissa every step,
// and the rounded gate gradients feed dh through W_hh, so errors compound
// backwards through time. The bias gradient sums T * B = 28 of them, with
// cancellation: the worst element seen is 0.027 off (of 0.046).
constexpr Tolerance kBf16Tolerance{1e-2, 2e-2};
constexpr Tolerance kBf16BiasTolerance{4e-2, 2e-2};

TEST(RnnCellKernels, ForwardAndBackwardStepsMatchTheSerialLayer) {
  expect_kernels_match_serial<float>(false, true, kFloatTolerance, kFloatTolerance,
                                     kFloatTolerance);
}

TEST(RnnCellKernels, ReverseLayerStartsAtEachRowsLastStep) {
  expect_kernels_match_serial<float>(true, true, kFloatTolerance, kFloatTolerance, kFloatTolerance);
}

TEST(RnnCellKernels, MissingInitialStateIsZero) {
  expect_kernels_match_serial<float>(false, false, kFloatTolerance, kFloatTolerance,
                                     kFloatTolerance);
  expect_kernels_match_serial<float>(true, false, kFloatTolerance, kFloatTolerance,
                                     kFloatTolerance);
}

TEST(RnnCellKernels, Bf16StorageWithFp32MathMatchesTheSerialLayer) {
  expect_kernels_match_serial<__nv_bfloat16>(false, true, kBf16Tolerance, kBf16Tolerance,
                                             kBf16BiasTolerance);
  expect_kernels_match_serial<__nv_bfloat16>(true, true, kBf16Tolerance, kBf16Tolerance,
                                             kBf16BiasTolerance);
}

}  // namespace
}  // namespace seqtrain::testing
