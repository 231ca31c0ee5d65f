// Shared by the emulated recurrent-cell kernel tests (kernels_lstm_cell_test.cc,
// kernels_gru_cell_test.cc, kernels_rnn_cell_test.cc): the serial backend's recurrent layer run
// forward and backward on random inputs (the oracle); KernelRnnLayer, which drives a cell's
// kernels over the layer step by step the way the CUDA backend drives them with cuBLAS (plain-loop
// GEMMs in double here), doing what every cell does alike and leaving each cell's own arguments
// and launches to its test; and the test cases every cell is held to (RecurrentCellKernels).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "kernel_test_storage.h"
#include "kernels/bias_grad.h"
#include "seqtrain/backend.h"
#include "test_support.h"

namespace seqtrain::testing {

struct RnnLayerShape {
  std::int64_t steps = 4, batch = 7, input = 5, hidden = 37;
  std::vector<std::int32_t> lengths = {4, 1, 3, 4, 2, 4, 3};  // packed: 1 to T
};

// The serial backend's layer, forward and backward, on random inputs. c0 and
// dc_n are random for an LSTM and empty (not passed) for the other cells.
struct SerialRnnLayer {
  RnnCell cell;
  RnnLayerShape shape;
  bool reverse = false;
  bool initial_state = true;
  std::int64_t gate_width = 0;  // G * H
  Tensor x, weight_ih, weight_hh, bias_ih, bias_hh, h0, c0, lengths;
  Tensor y, h_n, c_n, workspace, input_projection;
  Tensor dy, dh_n, dc_n;
  Tensor dx, dweight_ih, dweight_hh, dbias_ih, dbias_hh, dh0, dc0, gate_grads;

  SerialRnnLayer(RnnCell rnn_cell, const RnnLayerShape& s, bool reverse_layer,
                 bool with_initial_state, std::uint64_t seed)
      : cell(rnn_cell), shape(s), reverse(reverse_layer), initial_state(with_initial_state) {
    const std::int64_t T = s.steps, B = s.batch, I = s.input, H = s.hidden;
    const std::int64_t G = rnn_gate_count(cell) * H;
    gate_width = G;
    x = random_tensor({T, B, I}, seed);
    weight_ih = random_tensor({G, I}, seed + 1, 0.5f);
    weight_hh = random_tensor({G, H}, seed + 2, 0.3f);
    bias_ih = random_tensor({G}, seed + 3, 0.5f);
    bias_hh = random_tensor({G}, seed + 4, 0.5f);
    h0 = random_tensor({B, H}, seed + 5);
    const bool lstm = cell == RnnCell::lstm;
    if (lstm) c0 = random_tensor({B, H}, seed + 6);
    lengths = Tensor::from_vector(s.lengths, {B});
    y = Tensor::zeros({T, B, H});
    h_n = Tensor::zeros({B, H});
    c_n = Tensor::zeros({B, H});
    workspace = Tensor::zeros({T, B, rnn_workspace_width(cell) * H});
    input_projection = Tensor::zeros({T, B, G});
    dy = random_tensor({T, B, H}, seed + 7);
    dh_n = random_tensor({B, H}, seed + 8);
    if (lstm) dc_n = random_tensor({B, H}, seed + 9);
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
    const Tensor* c0_or_null = initial_state && lstm ? &c0 : nullptr;
    const Tensor* dc_n_or_null = lstm ? &dc_n : nullptr;
    serial->rnn_forward({cell, reverse, &x, &weight_ih, &weight_hh, &bias_ih, &bias_hh, h0_or_null,
                         c0_or_null, &lengths, &y, &h_n, &c_n, &workspace, &input_projection});
    serial->rnn_backward({cell,         reverse,  &x,          &weight_ih,  &weight_hh, h0_or_null,
                          c0_or_null,   &lengths, &y,          &workspace,  &dy,        &dh_n,
                          dc_n_or_null, &dx,      &dweight_ih, &dweight_hh, &dbias_ih,  &dbias_hh,
                          &dh0,         &dc0,     &gate_grads});
  }
};

// out[r * out_stride + c] = sum_k a[r * K + k] w[c * K + k] for r < rows,
// c < columns (a W^T, as the input projection and recurrent GEMMs), in double.
template <class A, class Out>
void gemm_transposed_b(const A* a, const float* w, std::int64_t rows, std::int64_t columns,
                       std::int64_t K, Out* out, std::int64_t out_stride) {
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < columns; ++c) {
      double sum = 0.0;
      for (std::int64_t k = 0; k < K; ++k)
        sum += static_cast<double>(storage_to_float(a[r * K + k])) * w[c * K + k];
      out[r * out_stride + c] = storage_from_float<Out>(static_cast<float>(sum));
    }
}

// dh[b, k] += sum_r grads[b, r] w[r, k] for grads [B, G], w [G, H] (the
// per-step dh += gate_grads W_hh), in double.
template <class Storage>
void add_gemm(const Storage* grads, const float* w, std::int64_t batch, std::int64_t gates,
              std::int64_t hidden, float* dh) {
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t k = 0; k < hidden; ++k) {
      double sum = 0.0;
      for (std::int64_t r = 0; r < gates; ++r)
        sum += static_cast<double>(storage_to_float(grads[b * gates + r])) * w[r * hidden + k];
      dh[b * hidden + k] += static_cast<float>(sum);
    }
}

struct Tolerance {
  double atol, rtol;
};

// How close one cell's kernels must come to the serial layer, per kind of result.
struct CellKernelTolerances {
  Tolerance forward;     // outputs, final state and saved activations
  Tolerance backward;    // gate gradients, dh0 and the other per-step gradients
  Tolerance bias_grads;  // bias gradients: sums over every (step, row)
};

// fp32: every cell's kernels differ from serial by float rounding and summation order only.
constexpr CellKernelTolerances kFp32CellKernelTolerances{{2e-6, 2e-5}, {2e-6, 2e-5}, {2e-6, 2e-5}};

// A cell's kernels driven over the layer of `serial`, one launch per step, as the
// CUDA backend drives them: forward, one input-projection GEMM for all steps,
// then per step the recurrent GEMM h_{t-1} W_hh^T and the cell kernel; backward,
// per step the cell kernel and dh += (gradients reaching h_{t-1}) W_hh. The
// buffers the kernels must write start as -7, so a value they skip shows.
template <class Storage>
struct KernelRnnLayer {
  const SerialRnnLayer& serial;
  std::int64_t steps, batch, hidden, gate_width;
  std::int64_t workspace_width;  // W * H per (step, row); 0 for a cell that saves nothing
  const std::int32_t* lengths;
  std::vector<Storage> h0, projection, y, h, workspace, dy, gate_grads;
  std::vector<float> dh;

  explicit KernelRnnLayer(const SerialRnnLayer& s)
      : serial(s),
        steps(s.shape.steps),
        batch(s.shape.batch),
        hidden(s.shape.hidden),
        gate_width(s.gate_width),
        workspace_width(rnn_workspace_width(s.cell) * s.shape.hidden),
        lengths(s.lengths.data<std::int32_t>()),
        h0(storage_values<Storage>(s.h0)),
        projection(static_cast<std::size_t>(steps * batch * gate_width)),
        y(static_cast<std::size_t>(steps * batch * hidden), storage_from_float<Storage>(-7.0f)),
        h(s.initial_state ? h0
                          : std::vector<Storage>(static_cast<std::size_t>(batch * hidden),
                                                 storage_from_float<Storage>(0.0f))),
        workspace(static_cast<std::size_t>(steps * batch * workspace_width),
                  storage_from_float<Storage>(-7.0f)),
        dy(storage_values<Storage>(s.dy)),
        gate_grads(static_cast<std::size_t>(steps * batch * gate_width),
                   storage_from_float<Storage>(-7.0f)),
        dh(s.dh_n.to_vector()) {
    const std::vector<Storage> x = storage_values<Storage>(s.x);
    gemm_transposed_b(x.data(), s.weight_ih.data<float>(), steps * batch, gate_width, s.shape.input,
                      projection.data(), gate_width);
  }

  // Forward over the steps in the layer's order. The recurrent GEMM writes the
  // step's workspace gate slots (stride W * H), or y[t] itself (stride H) for a
  // cell that saves nothing, which its kernel then overwrites in place. args
  // arrives with the fields every cell's forward arguments share;
  // launch_cell(args, t) adds its cell's own and launches the kernel.
  template <class ForwardArgs, class LaunchCell>
  void run_forward(ForwardArgs args, LaunchCell launch_cell) {
    const std::int64_t recurrent_stride = workspace_width > 0 ? workspace_width : hidden;
    for (std::int64_t position = 0; position < steps; ++position) {
      const std::int64_t t = serial.reverse ? steps - 1 - position : position;
      Storage* recurrent =
          workspace_width > 0 ? workspace_of_step(t) : y.data() + t * batch * hidden;
      gemm_transposed_b(h.data(), serial.weight_hh.data<float>(), batch, gate_width, hidden,
                        recurrent, recurrent_stride);
      args.batch = static_cast<std::int32_t>(batch);
      args.hidden = static_cast<std::int32_t>(hidden);
      args.step = static_cast<std::int32_t>(t);
      args.lengths = lengths;
      args.input_projection = projection.data() + t * batch * gate_width;
      args.recurrent = recurrent;
      args.recurrent_stride = recurrent_stride;
      args.bias_ih = serial.bias_ih.data<float>();
      args.bias_hh = serial.bias_hh.data<float>();
      args.h = h.data();
      args.y = y.data() + t * batch * hidden;
      launch_cell(args, t);
    }
  }

  // Backward over the steps in the reverse of the forward order. args arrives
  // with the fields every cell's backward arguments share; launch_cell(args, t)
  // adds its cell's own, launches the kernel and returns the step's gradients
  // that reach h_{t-1} through W_hh ([B, G*H]).
  template <class BackwardArgs, class LaunchCell>
  void run_backward(BackwardArgs args, LaunchCell launch_cell) {
    for (std::int64_t position = 0; position < steps; ++position) {
      const std::int64_t t = serial.reverse ? position : steps - 1 - position;
      args.batch = static_cast<std::int32_t>(batch);
      args.hidden = static_cast<std::int32_t>(hidden);
      args.step = static_cast<std::int32_t>(t);
      args.lengths = lengths;
      args.dy = dy.data() + t * batch * hidden;
      args.dh = dh.data();
      args.gate_grads = gate_grads.data() + t * batch * gate_width;
      const Storage* reaching_previous_h = launch_cell(args, t);
      add_gemm(reaching_previous_h, serial.weight_hh.data<float>(), batch, gate_width, hidden,
               dh.data());
    }
  }

  Storage* workspace_of_step(std::int64_t t) {
    return workspace.data() + t * batch * workspace_width;
  }

  // Step t's predecessor in the forward order (t - 1, or t + 1 in a reverse
  // layer) within values laid out [T, B, width]; null when t ran first.
  const Storage* previous_step(const std::vector<Storage>& values, std::int64_t width,
                               std::int64_t t) const {
    const std::int64_t previous = serial.reverse ? t + 1 : t - 1;
    return previous >= 0 && previous < steps ? values.data() + previous * batch * width : nullptr;
  }

  // The bias-gradient kernel over every (step, row) of grads [T, B, G*H].
  std::vector<float> bias_grad(const std::vector<Storage>& grads) const {
    std::vector<float> sums(static_cast<std::size_t>(gate_width), -7.0f);
    kernels::bias_grad(
        kernels::BiasGradArgs<Storage>{steps * batch, static_cast<std::int32_t>(gate_width),
                                       grads.data(), sums.data()},
        nullptr);
    return sums;
  }
};

// kernel (Storage or fp32 values) against the serial layer's tensor, within tolerance.
template <class Value>
void expect_close(const std::vector<Value>& kernel, const Tensor& serial, Tolerance tolerance,
                  const char* name) {
  EXPECT_TRUE(
      tensors_close(storage_tensor(kernel, serial.shape()), serial, tolerance.atol, tolerance.rtol))
      << name;
}

// The cases every cell's kernels are held to, as a typed test pattern. A test
// file describes its cell with a type Cell:
//   template <class Storage> using KernelLayer = ...;  // holds a KernelRnnLayer
//       // `layer` and checks the cell's own results in
//       // expect_cell_results_match(const CellKernelTolerances&) const
//   static constexpr RnnCell cell = ...;
//   static constexpr std::uint64_t forward_seed = ..., reverse_seed = ...;
//   static constexpr CellKernelTolerances float_tolerances{...}, bf16_tolerances{...};
// and runs the pattern with INSTANTIATE_TYPED_TEST_SUITE_P(<Name>CellKernels,
// RecurrentCellKernels, Cell).
template <class Cell>
class RecurrentCellKernels : public ::testing::Test {};

// Runs the layer of Cell on the serial backend and Cell::KernelLayer<Storage>
// over it, and checks what every cell computes (y, h_n, the workspace when the
// cell saves one, gate_grads and dh0), then the cell's own results.
template <class Cell, class Storage>
void expect_cell_kernels_match_serial(bool reverse, bool initial_state,
                                      const CellKernelTolerances& tolerances) {
  const SerialRnnLayer serial(Cell::cell, RnnLayerShape{}, reverse, initial_state,
                              reverse ? Cell::reverse_seed : Cell::forward_seed);
  const typename Cell::template KernelLayer<Storage> kernel(serial);
  const KernelRnnLayer<Storage>& layer = kernel.layer;
  expect_close(layer.y, serial.y, tolerances.forward, "y");
  expect_close(layer.h, serial.h_n, tolerances.forward, "h_n");
  if (layer.workspace_width > 0)
    expect_close(layer.workspace, serial.workspace, tolerances.forward, "workspace");
  expect_close(layer.gate_grads, serial.gate_grads, tolerances.backward, "gate_grads");
  expect_close(layer.dh, serial.dh0, tolerances.backward, "dh0");
  kernel.expect_cell_results_match(tolerances);
}

TYPED_TEST_SUITE_P(RecurrentCellKernels);

TYPED_TEST_P(RecurrentCellKernels, ForwardAndBackwardStepsMatchTheSerialLayer) {
  expect_cell_kernels_match_serial<TypeParam, float>(false, true, TypeParam::float_tolerances);
}

TYPED_TEST_P(RecurrentCellKernels, ReverseLayerStartsAtEachRowsLastStep) {
  expect_cell_kernels_match_serial<TypeParam, float>(true, true, TypeParam::float_tolerances);
}

TYPED_TEST_P(RecurrentCellKernels, MissingInitialStateIsZero) {
  expect_cell_kernels_match_serial<TypeParam, float>(false, false, TypeParam::float_tolerances);
  expect_cell_kernels_match_serial<TypeParam, float>(true, false, TypeParam::float_tolerances);
}

TYPED_TEST_P(RecurrentCellKernels, Bf16StorageWithFp32MathMatchesTheSerialLayer) {
  expect_cell_kernels_match_serial<TypeParam, __nv_bfloat16>(false, true,
                                                             TypeParam::bf16_tolerances);
  expect_cell_kernels_match_serial<TypeParam, __nv_bfloat16>(true, true,
                                                             TypeParam::bf16_tolerances);
}

REGISTER_TYPED_TEST_SUITE_P(RecurrentCellKernels, ForwardAndBackwardStepsMatchTheSerialLayer,
                            ReverseLayerStartsAtEachRowsLastStep, MissingInitialStateIsZero,
                            Bf16StorageWithFp32MathMatchesTheSerialLayer);

}  // namespace seqtrain::testing
