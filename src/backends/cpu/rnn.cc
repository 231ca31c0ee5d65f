// The cpu recurrent layer: LSTM, GRU and tanh RNN over a time-major sequence.
// Same cells, gate order and packed-sequence semantics as the serial oracle
// (backends/serial/rnn.cc, whose header lists the formulas); what differs is
// where the work goes.
//
// Forward, for T steps of batch B, input I, hidden H and G gates:
//   1. input_projection = x W_ih^T           one GEMM [T*B, I] x [I, G*H]
//   2. per step t (in processing order):
//        pre = h_{t-1} W_hh^T                one GEMM [B, H] x [H, G*H], written
//                                            into the step's workspace slots
//                                            (y[t] for rnn_tanh, which saves none)
//        one fused pass over (row, unit): adds both biases to pre and the input
//        projection, applies the gates, updates c and h, and overwrites the
//        pre-activations with what backward needs.
//   The running state lives in h_n / c_n; rows past their length keep it.
//   Saved per (t, b): lstm i, f, g, o, c_t; gru r, z, n, hn = W_hn h + b_hn.
//
// Backward, steps in the opposite order, running dh / dc kept in dh0 / dc0:
//   per step t: one fused pass turns G = dh + dy_t and the saved activations
//        into the pre-activation gradients gate_grads[t] (and dc_{t-1}, and
//        GRU's direct term G * z into dh), then
//        dh += gate_grads[t] W_hh            one GEMM [B, G*H] x [G*H, H]
//   after the loop, over all steps at once:
//        [dW_ih | dW_hh] = gate_grads^T [x | H_prev]
//                                            one GEMM [G*H, T*B] x [T*B, I + H]
//        dx    = gate_grads W_ih             one GEMM [T*B, G*H] x [G*H, I]
//        db_ih, db_hh = column sums of gate_grads (bias_grad)
//   H_prev[t] is h_{t-1}: y at the previous step in processing order, h0 at a
//   row's first step. [x | H_prev] is gathered into backend scratch.
//   Padded steps have zero gate gradients, so they add nothing anywhere.
//   GRU: W_hh's n rows see r * da_n where W_ih's see da_n. During the loop the
//   step's gate_grads hold the hidden-side version for the recurrent GEMM (da_n
//   waits in dc0, free for GRU) and get da_n back after it; the hidden-side
//   version is rebuilt in place (times r) for b_hh and one more GEMM that
//   replaces dW_hh's n rows.
//
// Element-wise loops are tiles of (row, 64 units) spread over the pool; each
// tile writes only its own elements, so results do not depend on the thread
// count (oneDNN's GEMMs are repeatable for a fixed thread count). Nothing is
// allocated per step: scratch is the workspace, input_projection, gate_grads,
// the state outputs and, for the weight-gradient GEMM, a buffer the backend
// keeps between calls.
#include <algorithm>
#include <cstring>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/parallel.h"
#include "backends/cpu/vector_math.h"
#include "backends/rnn_layout.h"

namespace seqtrain {
namespace {

using cpu::fast_sigmoid;
using cpu::fast_tanh;

// Hidden units per tile: four AVX-512 vectors, and cache-line aligned.
constexpr std::int64_t kUnitChunk = 64;
// Tiles per thread at least: a tile is ~0.3 us of gate math, waking the pool ~1-2 us.
constexpr std::int64_t kTileGrain = 8;

// body(b, begin, end) for every row b and chunk [begin, end) of hidden units.
template <class Body>
void for_each_tile(int threads, std::int64_t batch, std::int64_t hidden, const Body& body) {
  const std::int64_t chunks = (hidden + kUnitChunk - 1) / kUnitChunk;
  cpu::parallel_for(threads, batch * chunks, kTileGrain,
                    [&](std::int64_t first, std::int64_t last) {
                      for (std::int64_t tile = first; tile < last; ++tile) {
                        const std::int64_t begin = tile % chunks * kUnitChunk;
                        body(tile / chunks, begin, std::min(hidden, begin + kUnitChunk));
                      }
                    });
}

void zero_units(float* row, std::int64_t parts, std::int64_t stride, std::int64_t begin,
                std::int64_t end) {
  for (std::int64_t part = 0; part < parts; ++part)
    std::fill(row + part * stride + begin, row + part * stride + end, 0.0f);
}

// ---- forward cell updates on units [begin, end) of one valid row ----------

// saved holds h W_hh^T for gates i, f, g, o on entry; i, f, g, o, c_t on exit.
void lstm_forward_units(const float* __restrict projected, float* __restrict saved,
                        const float* __restrict bias_ih, const float* __restrict bias_hh,
                        float* __restrict h, float* __restrict c, float* __restrict y,
                        std::int64_t H, std::int64_t begin, std::int64_t end) {
#pragma omp simd
  for (std::int64_t j = begin; j < end; ++j) {
    const float i = fast_sigmoid(projected[j] + saved[j] + bias_ih[j] + bias_hh[j]);
    const float f = fast_sigmoid(projected[H + j] + saved[H + j] + bias_ih[H + j] + bias_hh[H + j]);
    const float g = fast_tanh(projected[2 * H + j] + saved[2 * H + j] + bias_ih[2 * H + j] +
                              bias_hh[2 * H + j]);
    const float o = fast_sigmoid(projected[3 * H + j] + saved[3 * H + j] + bias_ih[3 * H + j] +
                                 bias_hh[3 * H + j]);
    const float cell = f * c[j] + i * g;
    const float state = o * fast_tanh(cell);
    saved[j] = i;
    saved[H + j] = f;
    saved[2 * H + j] = g;
    saved[3 * H + j] = o;
    saved[4 * H + j] = cell;
    c[j] = cell;
    h[j] = state;
    y[j] = state;
  }
}

// saved holds h W_hh^T for gates r, z, n on entry; r, z, n, hn on exit.
void gru_forward_units(const float* __restrict projected, float* __restrict saved,
                       const float* __restrict bias_ih, const float* __restrict bias_hh,
                       float* __restrict h, float* __restrict y, std::int64_t H, std::int64_t begin,
                       std::int64_t end) {
#pragma omp simd
  for (std::int64_t j = begin; j < end; ++j) {
    const float r = fast_sigmoid(projected[j] + saved[j] + bias_ih[j] + bias_hh[j]);
    const float z = fast_sigmoid(projected[H + j] + saved[H + j] + bias_ih[H + j] + bias_hh[H + j]);
    const float hidden_n = saved[2 * H + j] + bias_hh[2 * H + j];
    const float candidate = fast_tanh(projected[2 * H + j] + bias_ih[2 * H + j] + r * hidden_n);
    const float state = (1.0f - z) * candidate + z * h[j];
    saved[j] = r;
    saved[H + j] = z;
    saved[2 * H + j] = candidate;
    saved[3 * H + j] = hidden_n;
    h[j] = state;
    y[j] = state;
  }
}

// y holds h W_hh^T on entry and h_t on exit.
void tanh_forward_units(const float* __restrict projected, const float* __restrict bias_ih,
                        const float* __restrict bias_hh, float* __restrict h, float* __restrict y,
                        std::int64_t begin, std::int64_t end) {
#pragma omp simd
  for (std::int64_t j = begin; j < end; ++j) {
    const float state = fast_tanh(projected[j] + y[j] + bias_ih[j] + bias_hh[j]);
    h[j] = state;
    y[j] = state;
  }
}

// ---- backward cell updates on units [begin, end) of one valid row ----------
// dh enters as the gradient reaching h_t from later steps and leaves as the
// part of dh_{t-1} that does not go through W_hh (the recurrent GEMM adds the
// rest). kZeroPrevious: the previous state is a missing h0 / c0.

// do = G tanh(c_t); dc_t = dc + G o (1 - tanh^2 c_t); di = dc_t g; df = dc_t c_{t-1};
// dg = dc_t i; gates: da_i = di i(1-i), da_f = df f(1-f), da_g = dg (1-g^2),
// da_o = do o(1-o); dc_{t-1} = dc_t f.
template <bool kZeroPrevious>
void lstm_backward_units(const float* __restrict saved, const float* __restrict previous_c,
                         const float* __restrict dy, float* __restrict dh, float* __restrict dc,
                         float* __restrict gates, std::int64_t H, std::int64_t begin,
                         std::int64_t end) {
#pragma omp simd
  for (std::int64_t j = begin; j < end; ++j) {
    const float i = saved[j], f = saved[H + j], g = saved[2 * H + j], o = saved[3 * H + j];
    const float tanh_c = fast_tanh(saved[4 * H + j]);
    const float c_before = kZeroPrevious ? 0.0f : previous_c[j];
    const float grad = dh[j] + (dy != nullptr ? dy[j] : 0.0f);
    const float dcell = dc[j] + grad * o * (1.0f - tanh_c * tanh_c);
    gates[j] = dcell * g * i * (1.0f - i);
    gates[H + j] = dcell * c_before * f * (1.0f - f);
    gates[2 * H + j] = dcell * i * (1.0f - g * g);
    gates[3 * H + j] = grad * tanh_c * o * (1.0f - o);
    dc[j] = dcell * f;
    dh[j] = 0.0f;
  }
}

// dn = G (1-z), da_n = dn (1-n^2); dz = G (h_{t-1} - n), da_z = dz z(1-z);
// dr = da_n hn, da_r = dr r(1-r). gates gets the hidden side (da_r, da_z,
// da_n r); da_n goes to candidate_grad; dh_{t-1} starts as G z.
template <bool kZeroPrevious>
void gru_backward_units(const float* __restrict saved, const float* __restrict previous_h,
                        const float* __restrict dy, float* __restrict dh,
                        float* __restrict candidate_grad, float* __restrict gates, std::int64_t H,
                        std::int64_t begin, std::int64_t end) {
#pragma omp simd
  for (std::int64_t j = begin; j < end; ++j) {
    const float r = saved[j], z = saved[H + j], candidate = saved[2 * H + j];
    const float hidden_n = saved[3 * H + j];
    const float h_before = kZeroPrevious ? 0.0f : previous_h[j];
    const float grad = dh[j] + (dy != nullptr ? dy[j] : 0.0f);
    const float dcandidate = grad * (1.0f - z) * (1.0f - candidate * candidate);
    gates[j] = dcandidate * hidden_n * r * (1.0f - r);
    gates[H + j] = grad * (h_before - candidate) * z * (1.0f - z);
    gates[2 * H + j] = dcandidate * r;
    candidate_grad[j] = dcandidate;
    dh[j] = grad * z;
  }
}

// da = G (1 - h_t^2).
void tanh_backward_units(const float* __restrict y, const float* __restrict dy,
                         float* __restrict dh, float* __restrict gates, std::int64_t begin,
                         std::int64_t end) {
#pragma omp simd
  for (std::int64_t j = begin; j < end; ++j) {
    const float grad = dh[j] + (dy != nullptr ? dy[j] : 0.0f);
    gates[j] = grad * (1.0f - y[j] * y[j]);
    dh[j] = 0.0f;
  }
}

void copy_or_zero(const Tensor* source, float* target, std::int64_t count) {
  if (source != nullptr)
    std::memcpy(target, source->data<float>(), static_cast<std::size_t>(count) * sizeof(float));
  else
    std::fill(target, target + count, 0.0f);
}

}  // namespace

void CpuBackend::rnn_forward(const RnnForwardArgs& a) {
  const RnnShape n = rnn_shape(a.cell, *a.x, *a.weight_hh);
  const std::int64_t H = n.hidden, B = n.batch, GH = n.gate_width;
  const std::int64_t longest =
      longest_sequence(a.lengths->data<std::int32_t>(), a.lengths->numel(), n.steps);
  const std::int32_t* lengths = a.lengths->data<std::int32_t>();
  const float* weight_hh = a.weight_hh->data<float>();
  const float* bias_ih = a.bias_ih->data<float>();
  const float* bias_hh = a.bias_hh->data<float>();
  const float* projection = a.input_projection->data<float>();
  float* y = a.y->data<float>();
  float* workspace = n.workspace_width > 0 ? a.workspace->data<float>() : nullptr;
  float* h = a.h_n->data<float>();
  float* c = a.c_n->data<float>();

  gemm(false, true, n.steps * B, GH, n.input, 1.0f, a.x->data<float>(), n.input,
       a.weight_ih->data<float>(), n.input, 0.0f, a.input_projection->data<float>(), GH);
  copy_or_zero(a.h0, h, B * H);
  copy_or_zero(a.cell == RnnCell::lstm ? a.c0 : nullptr, c, B * H);

  for (std::int64_t position = 0; position < n.steps; ++position) {
    const std::int64_t t = a.reverse ? n.steps - 1 - position : position;
    float* y_step = y + t * B * H;
    float* saved_step = workspace != nullptr ? workspace + t * B * n.workspace_width : nullptr;
    // The recurrent GEMM writes where the fused pass reads it: the workspace's
    // gate slots, or y for rnn_tanh. A step no row reaches needs none.
    if (t < longest) {
      if (saved_step != nullptr)
        gemm(false, true, B, GH, H, 1.0f, h, H, weight_hh, H, 0.0f, saved_step, n.workspace_width);
      else
        gemm(false, true, B, GH, H, 1.0f, h, H, weight_hh, H, 0.0f, y_step, H);
    }
    for_each_tile(threads_, B, H, [&](std::int64_t b, std::int64_t begin, std::int64_t end) {
      float* y_row = y_step + b * H;
      float* saved = saved_step != nullptr ? saved_step + b * n.workspace_width : nullptr;
      if (t >= lengths[b]) {
        std::fill(y_row + begin, y_row + end, 0.0f);
        if (saved != nullptr) zero_units(saved, rnn_workspace_width(a.cell), H, begin, end);
        return;
      }
      const float* projected = projection + (t * B + b) * GH;
      switch (a.cell) {
        case RnnCell::lstm:
          lstm_forward_units(projected, saved, bias_ih, bias_hh, h + b * H, c + b * H, y_row, H,
                             begin, end);
          break;
        case RnnCell::gru:
          gru_forward_units(projected, saved, bias_ih, bias_hh, h + b * H, y_row, H, begin, end);
          break;
        case RnnCell::rnn_tanh:
          tanh_forward_units(projected, bias_ih, bias_hh, h + b * H, y_row, begin, end);
          break;
      }
    });
  }
}

void CpuBackend::rnn_backward(const RnnBackwardArgs& a) {
  const RnnShape n = rnn_shape(a.cell, *a.x, *a.weight_hh);
  const std::int64_t H = n.hidden, B = n.batch, GH = n.gate_width, T = n.steps;
  const std::int64_t longest =
      longest_sequence(a.lengths->data<std::int32_t>(), a.lengths->numel(), T);
  const std::int32_t* lengths = a.lengths->data<std::int32_t>();
  const float* x = a.x->data<float>();
  const float* weight_ih = a.weight_ih->data<float>();
  const float* weight_hh = a.weight_hh->data<float>();
  const float* h0 = a.h0 != nullptr ? a.h0->data<float>() : nullptr;
  const float* c0 = a.c0 != nullptr ? a.c0->data<float>() : nullptr;
  const float* y = a.y->data<float>();
  const float* workspace = n.workspace_width > 0 ? a.workspace->data<float>() : nullptr;
  const float* dy = a.dy != nullptr ? a.dy->data<float>() : nullptr;
  float* gate_grads = a.gate_grads->data<float>();
  float* dh = a.dh0->data<float>();
  float* dc = a.dc0->data<float>();  // GRU: da_n of the current step
  copy_or_zero(a.dh_n, dh, B * H);
  copy_or_zero(a.cell == RnnCell::lstm ? a.dc_n : nullptr, dc, B * H);

  for (std::int64_t position = 0; position < T; ++position) {
    const std::int64_t t = a.reverse ? position : T - 1 - position;
    const std::int64_t previous_t = a.reverse ? t + 1 : t - 1;
    float* gates_step = gate_grads + t * B * GH;
    for_each_tile(threads_, B, H, [&](std::int64_t b, std::int64_t begin, std::int64_t end) {
      float* gates = gates_step + b * GH;
      const std::int64_t length = lengths[b];
      if (t >= length) {
        zero_units(gates, rnn_gate_count(a.cell), H, begin, end);
        return;
      }
      const bool first = a.reverse ? t == length - 1 : t == 0;
      const std::int64_t row = t * B + b, previous_row = previous_t * B + b;
      const float* dy_row = dy != nullptr ? dy + row * H : nullptr;
      const float* saved = workspace != nullptr ? workspace + row * n.workspace_width : nullptr;
      switch (a.cell) {
        case RnnCell::lstm: {
          const float* previous_c = first ? (c0 != nullptr ? c0 + b * H : nullptr)
                                          : workspace + previous_row * n.workspace_width + 4 * H;
          if (previous_c != nullptr)
            lstm_backward_units<false>(saved, previous_c, dy_row, dh + b * H, dc + b * H, gates, H,
                                       begin, end);
          else
            lstm_backward_units<true>(saved, nullptr, dy_row, dh + b * H, dc + b * H, gates, H,
                                      begin, end);
          break;
        }
        case RnnCell::gru: {
          const float* previous_h =
              first ? (h0 != nullptr ? h0 + b * H : nullptr) : y + previous_row * H;
          if (previous_h != nullptr)
            gru_backward_units<false>(saved, previous_h, dy_row, dh + b * H, dc + b * H, gates, H,
                                      begin, end);
          else
            gru_backward_units<true>(saved, nullptr, dy_row, dh + b * H, dc + b * H, gates, H,
                                     begin, end);
          break;
        }
        case RnnCell::rnn_tanh:
          tanh_backward_units(y + row * H, dy_row, dh + b * H, gates, begin, end);
          break;
      }
    });
    if (t >= longest) continue;  // no row reaches this step: its gate gradients are zero
    gemm(false, false, B, H, GH, 1.0f, gates_step, GH, weight_hh, H, 1.0f, dh, H);
    if (a.cell == RnnCell::gru)  // the input side of the n gate: da_n, not da_n * r
      for (std::int64_t b = 0; b < B; ++b)
        if (t < lengths[b])
          std::memcpy(gates_step + b * GH + 2 * H, dc + b * H,
                      static_cast<std::size_t>(H) * sizeof(float));
  }

  // Weight gradients over all steps in one GEMM:
  //   [dW_ih | dW_hh] = gate_grads^T [x | H_prev]       [G*H, T*B] x [T*B, I + H]
  // where row (t, b) of H_prev is h_{t-1}: y at the previous step in processing
  // order, h0 (or zeros) at the row's first step, zeros on padded steps (whose
  // gate gradients are zero). One wide GEMM instead of two: oneDNN's
  // transposed-A GEMM runs at about half speed when N is as narrow as I = 256.
  const std::int64_t width = n.input + H;
  float* operands = rnn_scratch((T * B + GH) * width);
  float* products = operands + T * B * width;
  cpu::parallel_for(
      threads_, T * B, std::max<std::int64_t>(1, cpu::kElementGrain / width),
      [&](std::int64_t first_row, std::int64_t last_row) {
        for (std::int64_t row = first_row; row < last_row; ++row) {
          const std::int64_t t = row / B, b = row % B;
          float* target = operands + row * width;
          std::memcpy(target, x + row * n.input, static_cast<std::size_t>(n.input) * sizeof(float));
          float* previous = target + n.input;
          const bool first = a.reverse ? t == lengths[b] - 1 : t == 0;
          const float* source = t >= lengths[b] ? nullptr
                                : first         ? (h0 != nullptr ? h0 + b * H : nullptr)
                                                : y + ((a.reverse ? t + 1 : t - 1) * B + b) * H;
          if (source != nullptr)
            std::memcpy(previous, source, static_cast<std::size_t>(H) * sizeof(float));
          else
            std::fill(previous, previous + H, 0.0f);
        }
      });
  gemm(true, false, GH, width, T * B, 1.0f, gate_grads, GH, operands, width, 0.0f, products, width);
  float* dweight_ih = a.dweight_ih->data<float>();
  float* dweight_hh = a.dweight_hh->data<float>();
  cpu::parallel_for(threads_, GH, std::max<std::int64_t>(1, cpu::kElementGrain / width),
                    [&](std::int64_t first_gate, std::int64_t last_gate) {
                      for (std::int64_t gate = first_gate; gate < last_gate; ++gate) {
                        const float* product = products + gate * width;
                        std::copy(product, product + n.input, dweight_ih + gate * n.input);
                        std::copy(product + n.input, product + width, dweight_hh + gate * H);
                      }
                    });

  gemm(false, false, T * B, n.input, GH, 1.0f, gate_grads, GH, weight_ih, n.input, 0.0f,
       a.dx->data<float>(), n.input);
  Tensor all_gates = Tensor::view(gate_grads, {T * B, GH}, DType::f32);
  bias_grad(all_gates, *a.dbias_ih);

  if (a.cell != RnnCell::gru) {
    std::memcpy(a.dbias_hh->data<float>(), a.dbias_ih->data<float>(),
                static_cast<std::size_t>(GH) * sizeof(float));
    if (a.cell == RnnCell::rnn_tanh) std::fill(dc, dc + B * H, 0.0f);
    return;
  }
  // GRU: W_hh's and b_hh's n rows see r * da_n (the GEMM above gave them da_n).
  cpu::parallel_for(threads_, T * B, std::max<std::int64_t>(1, cpu::kElementGrain / H),
                    [&](std::int64_t first_row, std::int64_t last_row) {
                      for (std::int64_t row = first_row; row < last_row; ++row) {
                        float* candidate = gate_grads + row * GH + 2 * H;
                        const float* r = workspace + row * n.workspace_width;
                        for (std::int64_t j = 0; j < H; ++j) candidate[j] *= r[j];
                      }
                    });
  bias_grad(all_gates, *a.dbias_hh);
  gemm(true, false, H, H, T * B, 1.0f, gate_grads + 2 * H, GH, operands + n.input, width, 0.0f,
       dweight_hh + 2 * H * H, H);
  std::fill(dc, dc + B * H, 0.0f);
}

float* CpuBackend::rnn_scratch(std::int64_t count, const std::source_location& user) {
  check_scratch_guards();
  return rnn_scratch_.reserve<float>(count, user);
}

}  // namespace seqtrain
