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
#include "kernels/bias_grad.h"
#include "kernels/gru_cell.h"

namespace seqtrain::testing {
namespace {

using kernels::BiasGradArgs;
using kernels::GruCellBackwardArgs;
using kernels::GruCellForwardArgs;

// The kernels driven over all steps as the CUDA backend will drive them.
template <class Storage>
struct GruKernelLayer {
  std::vector<Storage> y, h, saved, gate_grads, hidden_gate_grads;
  std::vector<float> dh, dbias_ih, dbias_hh, dweight_hh;

  explicit GruKernelLayer(const SerialRnnLayer& s) {
    const std::int64_t T = s.shape.steps, B = s.shape.batch, I = s.shape.input, H = s.shape.hidden,
                       G = 3 * H;
    const auto* lengths = s.lengths.data<std::int32_t>();
    const std::vector<Storage> h0 = storage_values<Storage>(s.h0);
    // Forward: one input-projection GEMM, then per step the recurrent GEMM into
    // the step's workspace gate slots (stride 4H) and the cell kernel in place.
    const std::vector<Storage> x = storage_values<Storage>(s.x);
    std::vector<Storage> projection(static_cast<std::size_t>(T * B * G));
    gemm_transposed_b(x.data(), s.weight_ih.data<float>(), T * B, G, I, projection.data(), G);
    y.assign(static_cast<std::size_t>(T * B * H), storage_from_float<Storage>(-7.0f));
    saved.assign(static_cast<std::size_t>(T * B * 4 * H), storage_from_float<Storage>(-7.0f));
    h = s.initial_state ? h0
                        : std::vector<Storage>(static_cast<std::size_t>(B * H),
                                               storage_from_float<Storage>(0.0f));
    for (std::int64_t position = 0; position < T; ++position) {
      const std::int64_t t = s.reverse ? T - 1 - position : position;
      Storage* saved_step = saved.data() + t * B * 4 * H;
      gemm_transposed_b(h.data(), s.weight_hh.data<float>(), B, G, H, saved_step, 4 * H);
      GruCellForwardArgs<Storage> args;
      args.batch = static_cast<std::int32_t>(B);
      args.hidden = static_cast<std::int32_t>(H);
      args.step = static_cast<std::int32_t>(t);
      args.lengths = lengths;
      args.input_projection = projection.data() + t * B * G;
      args.recurrent = saved_step;
      args.recurrent_stride = 4 * H;
      args.bias_ih = s.bias_ih.data<float>();
      args.bias_hh = s.bias_hh.data<float>();
      args.h = h.data();
      args.y = y.data() + t * B * H;
      args.saved = saved_step;
      kernels::gru_cell_forward(args, nullptr);
    }

    // Backward: per step the cell kernel, then dh += hidden_gate_grads[t] W_hh.
    const std::vector<Storage> dy = storage_values<Storage>(s.dy);
    dh = s.dh_n.to_vector();
    gate_grads.assign(static_cast<std::size_t>(T * B * G), storage_from_float<Storage>(-7.0f));
    hidden_gate_grads = gate_grads;
    for (std::int64_t position = 0; position < T; ++position) {
      const std::int64_t t = s.reverse ? position : T - 1 - position;
      const std::int64_t previous = s.reverse ? t + 1 : t - 1;
      GruCellBackwardArgs<Storage> args;
      args.batch = static_cast<std::int32_t>(B);
      args.hidden = static_cast<std::int32_t>(H);
      args.step = static_cast<std::int32_t>(t);
      args.reverse = s.reverse;
      args.lengths = lengths;
      args.saved = saved.data() + t * B * 4 * H;
      args.previous_y = previous >= 0 && previous < T ? y.data() + previous * B * H : nullptr;
      args.h0 = s.initial_state ? h0.data() : nullptr;
      args.dy = dy.data() + t * B * H;
      args.dh = dh.data();
      args.gate_grads = gate_grads.data() + t * B * G;
      args.hidden_gate_grads = hidden_gate_grads.data() + t * B * G;
      kernels::gru_cell_backward(args, nullptr);
      add_gemm(args.hidden_gate_grads, s.weight_hh.data<float>(), B, G, H, dh.data());
    }

    dbias_ih.assign(static_cast<std::size_t>(G), -7.0f);
    dbias_hh.assign(static_cast<std::size_t>(G), -7.0f);
    kernels::bias_grad(BiasGradArgs<Storage>{T * B, static_cast<std::int32_t>(G), gate_grads.data(),
                                             dbias_ih.data()},
                       nullptr);
    kernels::bias_grad(BiasGradArgs<Storage>{T * B, static_cast<std::int32_t>(G),
                                             hidden_gate_grads.data(), dbias_hh.data()},
                       nullptr);

    // dW_hh = sum over the valid (step, row) pairs of hidden_gate_grads^T h_{t-1}
    // (one GEMM on the GPU, where padded rows contribute their zero gradients).
    std::vector<double> sums(static_cast<std::size_t>(G * H), 0.0);
    for (std::int64_t t = 0; t < T; ++t)
      for (std::int64_t b = 0; b < B; ++b) {
        if (t >= lengths[b]) continue;
        const bool first = s.reverse ? t == lengths[b] - 1 : t == 0;
        const std::int64_t previous = s.reverse ? t + 1 : t - 1;
        for (std::int64_t k = 0; k < H; ++k) {
          float previous_h = 0.0f;
          if (!first)
            previous_h = storage_to_float(y[(previous * B + b) * H + k]);
          else if (s.initial_state)
            previous_h = storage_to_float(h0[b * H + k]);
          for (std::int64_t r = 0; r < G; ++r)
            sums[r * H + k] +=
                static_cast<double>(storage_to_float(hidden_gate_grads[(t * B + b) * G + r])) *
                previous_h;
        }
      }
    dweight_hh.assign(sums.begin(), sums.end());
  }
};

template <class Storage>
void expect_kernels_match_serial(bool reverse, bool initial_state, Tolerance forward,
                                 Tolerance backward) {
  const SerialRnnLayer serial(RnnCell::gru, RnnLayerShape{}, reverse, initial_state,
                              reverse ? 303 : 404);
  const GruKernelLayer<Storage> kernel(serial);
  const RnnLayerShape& n = serial.shape;
  const Shape state{n.batch, n.hidden};
  EXPECT_TRUE(tensors_close(storage_tensor(kernel.y, serial.y.shape()), serial.y, forward.atol,
                            forward.rtol))
      << "y";
  EXPECT_TRUE(
      tensors_close(storage_tensor(kernel.h, state), serial.h_n, forward.atol, forward.rtol))
      << "h_n";
  EXPECT_TRUE(tensors_close(storage_tensor(kernel.saved, serial.workspace.shape()),
                            serial.workspace, forward.atol, forward.rtol))
      << "workspace (r, z, n, hn)";
  EXPECT_TRUE(tensors_close(storage_tensor(kernel.gate_grads, serial.gate_grads.shape()),
                            serial.gate_grads, backward.atol, backward.rtol))
      << "gate_grads";
  EXPECT_TRUE(tensors_close(Tensor::from_vector(kernel.dh, state), serial.dh0, backward.atol,
                            backward.rtol))
      << "dh0";
  const Shape bias_shape = serial.dbias_ih.shape();
  EXPECT_TRUE(tensors_close(Tensor::from_vector(kernel.dbias_ih, bias_shape), serial.dbias_ih,
                            backward.atol, backward.rtol))
      << "dbias_ih";
  EXPECT_TRUE(tensors_close(Tensor::from_vector(kernel.dbias_hh, bias_shape), serial.dbias_hh,
                            backward.atol, backward.rtol))
      << "dbias_hh";
  EXPECT_TRUE(tensors_close(Tensor::from_vector(kernel.dweight_hh, serial.dweight_hh.shape()),
                            serial.dweight_hh, backward.atol, backward.rtol))
      << "dweight_hh";
}

// fp32: the kernels differ from serial by float rounding and summation order only.
constexpr Tolerance kFloatTolerance{2e-6, 2e-5};
// bf16 storage rounds h, activations and gate gradients to 8 bits of mantissa
// (relative error 2^-9) every step.
constexpr Tolerance kBf16Tolerance{1e-2, 2e-2};

TEST(GruCellKernels, ForwardAndBackwardStepsMatchTheSerialLayer) {
  expect_kernels_match_serial<float>(false, true, kFloatTolerance, kFloatTolerance);
}

TEST(GruCellKernels, ReverseLayerStartsAtEachRowsLastStep) {
  expect_kernels_match_serial<float>(true, true, kFloatTolerance, kFloatTolerance);
}

TEST(GruCellKernels, MissingInitialStateIsZero) {
  expect_kernels_match_serial<float>(false, false, kFloatTolerance, kFloatTolerance);
  expect_kernels_match_serial<float>(true, false, kFloatTolerance, kFloatTolerance);
}

TEST(GruCellKernels, Bf16StorageWithFp32MathMatchesTheSerialLayer) {
  expect_kernels_match_serial<__nv_bfloat16>(false, true, kBf16Tolerance, kBf16Tolerance);
  expect_kernels_match_serial<__nv_bfloat16>(true, true, kBf16Tolerance, kBf16Tolerance);
}

}  // namespace
}  // namespace seqtrain::testing
