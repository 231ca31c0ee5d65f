// Shared by the emulated recurrent-cell kernel tests (kernels_lstm_cell_test.cc,
// kernels_gru_cell_test.cc, kernels_rnn_cell_test.cc): the serial backend's recurrent layer run
// forward and backward on random inputs (the oracle), and the plain-loop GEMMs with which a test
// drives the cell kernels step by step the way the CUDA backend drives them with cuBLAS.
#pragma once

#include <cstdint>
#include <vector>

#include "kernel_test_storage.h"
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

}  // namespace seqtrain::testing
