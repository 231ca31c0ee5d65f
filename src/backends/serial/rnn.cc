// Serial recurrent layer: LSTM, GRU and tanh RNN over a time-major sequence,
// one row and one step at a time, with every dot product accumulated in double.
// It is the oracle the cpu and cuda backends are held against, so it is written
// for obviousness: each step computes its pre-activations from the weights
// directly (no all-steps input projection GEMM) and each backward step adds its
// own outer products to the weight gradients.
//
// Cells (PyTorch's gate order and formulas; a_* are pre-activations,
// a = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh split into gates):
//   lstm:     i = sigmoid(a_i), f = sigmoid(a_f), g = tanh(a_g), o = sigmoid(a_o)
//             c_t = f * c_{t-1} + i * g,  h_t = o * tanh(c_t)
//   gru:      r = sigmoid(a_r), z = sigmoid(a_z), hn = W_hn h_{t-1} + b_hn
//             n = tanh(W_in x_t + b_in + r * hn),  h_t = (1 - z) * n + z * h_{t-1}
//   rnn_tanh: h_t = tanh(a)
// Lengths (packed sequences): row b runs the steps t < len_b, in increasing t,
// or decreasing t from len_b - 1 when reverse. Other steps output zeros, save
// zeros and leave the state alone, so h_n / c_n are the state after the row's
// last valid step.
#include <cmath>
#include <vector>

#include "seqtrain/activation_math.h"
#include "backends/rnn_layout.h"
#include "backends/serial/serial_backend.h"

namespace seqtrain {
namespace {

// The row's first step (its previous state is h0 / c0) and the step before t.
bool is_first_step(bool reverse, std::int64_t t, std::int64_t length) {
  return reverse ? t == length - 1 : t == 0;
}
std::int64_t previous_step(bool reverse, std::int64_t t) {
  return reverse ? t + 1 : t - 1;
}

float value_or_zero(const Tensor* tensor, std::int64_t index) {
  return tensor != nullptr ? tensor->data<float>()[index] : 0.0f;
}

}  // namespace

void SerialBackend::rnn_forward(const RnnForwardArgs& a) {
  const RnnShape n = rnn_shape(a.cell, *a.x, *a.weight_hh);
  const std::int64_t H = n.hidden;
  const float* x = a.x->data<float>();
  const float* weight_ih = a.weight_ih->data<float>();
  const float* weight_hh = a.weight_hh->data<float>();
  const float* bias_ih = a.bias_ih->data<float>();
  const float* bias_hh = a.bias_hh->data<float>();
  float* y = a.y->data<float>();
  float* workspace = n.workspace_width > 0 ? a.workspace->data<float>() : nullptr;
  float* projection = a.input_projection->data<float>();
  // The running state lives in h_n and c_n.
  float* h = a.h_n->data<float>();
  float* c = a.c_n->data<float>();
  for (std::int64_t i = 0; i < n.batch * H; ++i) {
    h[i] = value_or_zero(a.h0, i);
    c[i] = a.cell == RnnCell::lstm ? value_or_zero(a.c0, i) : 0.0f;
  }

  std::vector<double> recurrent(static_cast<std::size_t>(n.gate_width));  // W_hh h + b_hh
  for (std::int64_t position = 0; position < n.steps; ++position) {
    const std::int64_t t = a.reverse ? n.steps - 1 - position : position;
    for (std::int64_t b = 0; b < n.batch; ++b) {
      const std::int64_t row = t * n.batch + b;
      float* y_row = y + row * H;
      float* saved = workspace != nullptr ? workspace + row * n.workspace_width : nullptr;
      float* projected = projection + row * n.gate_width;  // W_ih x + b_ih
      if (t >= sequence_length(a.lengths->data<std::int32_t>(), b, n.steps)) {
        for (std::int64_t j = 0; j < H; ++j) y_row[j] = 0.0f;
        for (std::int64_t j = 0; j < n.workspace_width; ++j) saved[j] = 0.0f;
        for (std::int64_t r = 0; r < n.gate_width; ++r) projected[r] = 0.0f;
        continue;
      }
      for (std::int64_t r = 0; r < n.gate_width; ++r) {
        double from_input = bias_ih[r];
        for (std::int64_t k = 0; k < n.input; ++k)
          from_input += static_cast<double>(weight_ih[r * n.input + k]) * x[row * n.input + k];
        double from_state = bias_hh[r];
        for (std::int64_t k = 0; k < H; ++k)
          from_state += static_cast<double>(weight_hh[r * H + k]) * h[b * H + k];
        projected[r] = static_cast<float>(from_input);
        recurrent[r] = from_state;
      }
      for (std::int64_t j = 0; j < H; ++j) {
        float& state = h[b * H + j];
        switch (a.cell) {
          case RnnCell::lstm: {
            auto pre = [&](int gate) {
              return static_cast<float>(projected[gate * H + j] + recurrent[gate * H + j]);
            };
            const float i = sigmoid(pre(0)), f = sigmoid(pre(1));
            const float g = std::tanh(pre(2)), o = sigmoid(pre(3));
            const float cell = f * c[b * H + j] + i * g;
            state = o * std::tanh(cell);
            c[b * H + j] = cell;
            saved[j] = i;
            saved[H + j] = f;
            saved[2 * H + j] = g;
            saved[3 * H + j] = o;
            saved[4 * H + j] = cell;
            break;
          }
          case RnnCell::gru: {
            const float r = sigmoid(static_cast<float>(projected[j] + recurrent[j]));
            const float z = sigmoid(static_cast<float>(projected[H + j] + recurrent[H + j]));
            const float hidden_n = static_cast<float>(recurrent[2 * H + j]);
            const float candidate = std::tanh(projected[2 * H + j] + r * hidden_n);
            state = (1.0f - z) * candidate + z * state;
            saved[j] = r;
            saved[H + j] = z;
            saved[2 * H + j] = candidate;
            saved[3 * H + j] = hidden_n;
            break;
          }
          case RnnCell::rnn_tanh:
            state = std::tanh(static_cast<float>(projected[j] + recurrent[j]));
            break;
        }
        y_row[j] = state;
      }
    }
  }
}

// Backward, walking the steps in the opposite order of the forward pass. dh and
// dc are the gradients reaching the state h_t, c_t from later steps; they start
// as dh_n, dc_n and live in dh0, dc0 (where they end as the gradients of h0, c0).
// At a valid step, with G = dh + dy_t the total gradient of h_t:
//   lstm (saved: i, f, g, o, c_t; c_{t-1} from the previous step or c0):
//     do = G * tanh(c_t)
//     dc_t = dc + G * o * (1 - tanh(c_t)^2)
//     di = dc_t * g,  df = dc_t * c_{t-1},  dg = dc_t * i
//     da_i = di * i (1 - i),  da_f = df * f (1 - f),  da_g = dg * (1 - g^2),
//     da_o = do * o (1 - o)
//     dc_{t-1} = dc_t * f
//     the same da feeds W_ih, b_ih, W_hh and b_hh.
//   gru (saved: r, z, n, hn = W_hn h_{t-1} + b_hn; h_{t-1} from y or h0):
//     dn = G * (1 - z),  da_n = dn * (1 - n^2)
//     dz = G * (h_{t-1} - n),  da_z = dz * z (1 - z)
//     dr = da_n * hn,  da_r = dr * r (1 - r)
//     input side (W_ih, b_ih): (da_r, da_z, da_n)
//     hidden side (W_hh, b_hh): (da_r, da_z, da_n * r)   [a_n = ... + r * hn]
//     the direct path h_{t-1} -> h_t adds G * z to dh_{t-1}.
//   rnn_tanh (h_t from y): da = G * (1 - h_t^2)
// Then with da_x / da_h the input-side / hidden-side gate gradients:
//   dx_t = da_x W_ih,  dh_{t-1} = direct + da_h W_hh
//   dW_ih += da_x^T x_t,  dW_hh += da_h^T h_{t-1},  db_ih += da_x,  db_hh += da_h
// Invalid steps pass dh and dc through untouched and give dx_t = 0.
void SerialBackend::rnn_backward(const RnnBackwardArgs& a) {
  const RnnShape n = rnn_shape(a.cell, *a.x, *a.weight_hh);
  const std::int64_t H = n.hidden;
  const float* x = a.x->data<float>();
  const float* weight_ih = a.weight_ih->data<float>();
  const float* weight_hh = a.weight_hh->data<float>();
  const float* y = a.y->data<float>();
  const float* workspace = n.workspace_width > 0 ? a.workspace->data<float>() : nullptr;
  float* dx = a.dx->data<float>();
  float* gate_grads = a.gate_grads->data<float>();
  float* dh = a.dh0->data<float>();
  float* dc = a.dc0->data<float>();
  for (std::int64_t i = 0; i < n.batch * H; ++i) {
    dh[i] = value_or_zero(a.dh_n, i);
    dc[i] = a.cell == RnnCell::lstm ? value_or_zero(a.dc_n, i) : 0.0f;
  }

  std::vector<double> dweight_ih(static_cast<std::size_t>(n.gate_width * n.input), 0.0);
  std::vector<double> dweight_hh(static_cast<std::size_t>(n.gate_width * H), 0.0);
  std::vector<double> dbias_ih(static_cast<std::size_t>(n.gate_width), 0.0);
  std::vector<double> dbias_hh(static_cast<std::size_t>(n.gate_width), 0.0);
  std::vector<float> gate_input(static_cast<std::size_t>(n.gate_width));   // da_x
  std::vector<float> gate_hidden(static_cast<std::size_t>(n.gate_width));  // da_h
  std::vector<float> total(static_cast<std::size_t>(H));                   // G
  std::vector<float> previous_h(static_cast<std::size_t>(H));              // h_{t-1}
  std::vector<float> direct(static_cast<std::size_t>(H));                  // GRU's G * z

  for (std::int64_t position = 0; position < n.steps; ++position) {
    const std::int64_t t = a.reverse ? position : n.steps - 1 - position;
    for (std::int64_t b = 0; b < n.batch; ++b) {
      const std::int64_t row = t * n.batch + b;
      float* gate_row = gate_grads + row * n.gate_width;
      float* dx_row = dx + row * n.input;
      const std::int64_t length = sequence_length(a.lengths->data<std::int32_t>(), b, n.steps);
      if (t >= length) {
        for (std::int64_t r = 0; r < n.gate_width; ++r) gate_row[r] = 0.0f;
        for (std::int64_t k = 0; k < n.input; ++k) dx_row[k] = 0.0f;
        continue;
      }
      const bool first = is_first_step(a.reverse, t, length);
      const std::int64_t previous_row = previous_step(a.reverse, t) * n.batch + b;
      for (std::int64_t k = 0; k < H; ++k) {
        previous_h[k] = first ? value_or_zero(a.h0, b * H + k) : y[previous_row * H + k];
        total[k] = dh[b * H + k] + (a.dy != nullptr ? a.dy->data<float>()[row * H + k] : 0.0f);
        direct[k] = 0.0f;
      }
      const float* saved = workspace != nullptr ? workspace + row * n.workspace_width : nullptr;
      for (std::int64_t j = 0; j < H; ++j) {
        const float grad = total[j];
        switch (a.cell) {
          case RnnCell::lstm: {
            const float i = saved[j], f = saved[H + j], g = saved[2 * H + j];
            const float o = saved[3 * H + j], cell = saved[4 * H + j];
            const float previous_c = first
                                         ? value_or_zero(a.c0, b * H + j)
                                         : workspace[previous_row * n.workspace_width + 4 * H + j];
            const float tanh_c = std::tanh(cell);
            const float dcell = dc[b * H + j] + grad * o * (1.0f - tanh_c * tanh_c);
            gate_input[j] = dcell * g * i * (1.0f - i);
            gate_input[H + j] = dcell * previous_c * f * (1.0f - f);
            gate_input[2 * H + j] = dcell * i * (1.0f - g * g);
            gate_input[3 * H + j] = grad * tanh_c * o * (1.0f - o);
            for (int gate = 0; gate < 4; ++gate)
              gate_hidden[gate * H + j] = gate_input[gate * H + j];
            dc[b * H + j] = dcell * f;
            break;
          }
          case RnnCell::gru: {
            const float r = saved[j], z = saved[H + j], candidate = saved[2 * H + j];
            const float hidden_n = saved[3 * H + j];
            const float dcandidate = grad * (1.0f - z) * (1.0f - candidate * candidate);
            gate_input[j] = dcandidate * hidden_n * r * (1.0f - r);
            gate_input[H + j] = grad * (previous_h[j] - candidate) * z * (1.0f - z);
            gate_input[2 * H + j] = dcandidate;
            gate_hidden[j] = gate_input[j];
            gate_hidden[H + j] = gate_input[H + j];
            gate_hidden[2 * H + j] = dcandidate * r;
            direct[j] = grad * z;
            break;
          }
          case RnnCell::rnn_tanh: {
            const float state = y[row * H + j];
            gate_input[j] = grad * (1.0f - state * state);
            gate_hidden[j] = gate_input[j];
            break;
          }
        }
      }
      for (std::int64_t r = 0; r < n.gate_width; ++r) {
        gate_row[r] = gate_input[r];
        dbias_ih[r] += gate_input[r];
        dbias_hh[r] += gate_hidden[r];
        for (std::int64_t k = 0; k < n.input; ++k)
          dweight_ih[r * n.input + k] += static_cast<double>(gate_input[r]) * x[row * n.input + k];
        for (std::int64_t k = 0; k < H; ++k)
          dweight_hh[r * H + k] += static_cast<double>(gate_hidden[r]) * previous_h[k];
      }
      for (std::int64_t k = 0; k < n.input; ++k) {
        double sum = 0.0;
        for (std::int64_t r = 0; r < n.gate_width; ++r)
          sum += static_cast<double>(gate_input[r]) * weight_ih[r * n.input + k];
        dx_row[k] = static_cast<float>(sum);
      }
      for (std::int64_t k = 0; k < H; ++k) {
        double sum = direct[k];
        for (std::int64_t r = 0; r < n.gate_width; ++r)
          sum += static_cast<double>(gate_hidden[r]) * weight_hh[r * H + k];
        dh[b * H + k] = static_cast<float>(sum);
      }
    }
  }

  auto store = [](const std::vector<double>& sums, Tensor& target) {
    float* out = target.data<float>();
    for (std::size_t i = 0; i < sums.size(); ++i) out[i] = static_cast<float>(sums[i]);
  };
  store(dweight_ih, *a.dweight_ih);
  store(dweight_hh, *a.dweight_hh);
  store(dbias_ih, *a.dbias_ih);
  store(dbias_hh, *a.dbias_hh);
}

}  // namespace seqtrain
