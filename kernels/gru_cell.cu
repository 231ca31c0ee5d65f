// The fused GRU cell update for one time step, forward and backward: the
// element-wise work between the GEMMs of the recurrent layer, one thread per
// (batch row b, hidden unit j), so every gate row is read and written coalesced.
//
// Forward, for a valid row (t < lengths[b]), with p = input_projection[b]
// (x_t W_ih^T) and q = recurrent[b] (h_{t-1} W_hh^T), split into PyTorch's
// gates r, z, n:
//   r  = sigmoid(p_r + b_ir + q_r + b_hr)     z = sigmoid(p_z + b_iz + q_z + b_hz)
//   hn = q_n + b_hn                           n = tanh(p_n + b_in + r * hn)
//   h_t = (1 - z) * n + z * h_{t-1}
//   saved[b] = (r, z, n, hn)                  (workspace [T, B, 4H], what backward needs)
// A padded row (t >= lengths[b]) writes y = 0 and saved = 0 and leaves h alone.
// hn is saved because r multiplies it inside the tanh: backward needs it for
// da_r, and recomputing it would take another GEMM.
//
// Backward, for a valid row, from G = dh + dy_t (the total gradient of h_t) and
// h_{t-1} (the previous step's y, or h0, or zero at the row's first step):
//   da_n = G * (1 - z) * (1 - n^2)
//   da_z = G * (h_{t-1} - n) * z (1 - z)
//   da_r = da_n * hn * r (1 - r)
//   gate_grads[b]        = (da_r, da_z, da_n)       input side: dx, dW_ih, db_ih
//   hidden_gate_grads[b] = (da_r, da_z, da_n * r)   hidden side: dW_hh, db_hh, dh
//   dh <- G * z                                     (the direct path h_{t-1} -> h_t)
// The caller then adds hidden_gate_grads[t] W_hh into dh (one GEMM per step) and,
// after the loop, forms the weight and bias gradients over all steps at once
// (bias_grad.cu sums each gate-gradient buffer without atomics). A padded row
// writes zero gate gradients and passes dh through.
//
// Launch geometry: a 1-D grid over the B*H (row, unit) pairs, 256 threads per
// block (a multiple of the warp; B*H need not be), no shared memory, no
// barriers. Per call, with s = sizeof(Storage) and every row valid:
//   forward  reads 7 B*H values (p, q, h_{t-1}) and writes 6 (saved, h, y):
//            13 s B*H bytes plus 24 H bytes of biases; ~25 FLOPs and 3
//            transcendentals per (row, unit)
//   backward reads 6 s + 4 and writes 6 s + 4 bytes per (row, unit); ~20 FLOPs
// Both are memory bound on any GPU (under 2 FLOPs per byte).
#include "kernels/device_api.h"
#include "kernels/gru_cell.h"
#include "kernels/launch.h"
#include "kernels/storage.h"

namespace seqtrain::kernels {

constexpr int kGruCellThreads = 256;

namespace {
__device__ __forceinline__ float sigmoid(float x) {
  return 1.0f / (1.0f + __expf(-x));
}
}  // namespace

template <class Storage>
__global__ void __launch_bounds__(kGruCellThreads)
    gru_cell_forward_kernel(const GruCellForwardArgs<Storage> args) {
  const std::int64_t H = args.hidden;
  const std::int64_t index = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index >= args.batch * H) return;
  const std::int64_t b = index / H, j = index % H;
  Storage* saved = args.saved + b * 4 * H + j;
  if (args.step >= args.lengths[b]) {
    store_float(args.y + index, 0.0f);
    SEQTRAIN_UNROLL
    for (int part = 0; part < 4; ++part) store_float(saved + part * H, 0.0f);
    return;
  }
  const Storage* projected = args.input_projection + b * 3 * H + j;
  const Storage* recurrent = args.recurrent + b * args.recurrent_stride + j;
  const float* bias_ih = args.bias_ih + j;
  const float* bias_hh = args.bias_hh + j;
  const float reset =
      sigmoid(load_float(projected) + bias_ih[0] + load_float(recurrent) + bias_hh[0]);
  const float update =
      sigmoid(load_float(projected + H) + bias_ih[H] + load_float(recurrent + H) + bias_hh[H]);
  const float hidden_n = load_float(recurrent + 2 * H) + bias_hh[2 * H];
  const float candidate = tanhf(load_float(projected + 2 * H) + bias_ih[2 * H] + reset * hidden_n);
  const float state = (1.0f - update) * candidate + update * load_float(args.h + index);
  // recurrent may alias saved: every read of this (row, unit) is done above.
  store_float(saved, reset);
  store_float(saved + H, update);
  store_float(saved + 2 * H, candidate);
  store_float(saved + 3 * H, hidden_n);
  store_float(args.h + index, state);
  store_float(args.y + index, state);
}

template <class Storage>
__global__ void __launch_bounds__(kGruCellThreads)
    gru_cell_backward_kernel(const GruCellBackwardArgs<Storage> args) {
  const std::int64_t H = args.hidden;
  const std::int64_t index = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index >= args.batch * H) return;
  const std::int64_t b = index / H, j = index % H;
  Storage* gates = args.gate_grads + b * 3 * H + j;
  Storage* hidden_gates = args.hidden_gate_grads + b * 3 * H + j;
  const std::int32_t length = args.lengths[b];
  if (args.step >= length) {
    SEQTRAIN_UNROLL
    for (int gate = 0; gate < 3; ++gate) {
      store_float(gates + gate * H, 0.0f);
      store_float(hidden_gates + gate * H, 0.0f);
    }
    return;
  }
  const Storage* saved = args.saved + b * 4 * H + j;
  const float reset = load_float(saved), update = load_float(saved + H);
  const float candidate = load_float(saved + 2 * H), hidden_n = load_float(saved + 3 * H);
  const bool first = args.reverse ? args.step == length - 1 : args.step == 0;
  float previous_h = 0.0f;
  if (!first)
    previous_h = load_float(args.previous_y + index);
  else if (args.h0 != nullptr)
    previous_h = load_float(args.h0 + index);
  const float grad = args.dh[index] + (args.dy != nullptr ? load_float(args.dy + index) : 0.0f);
  const float dcandidate = grad * (1.0f - update) * (1.0f - candidate * candidate);
  const float dupdate = grad * (previous_h - candidate) * update * (1.0f - update);
  const float dreset = dcandidate * hidden_n * reset * (1.0f - reset);
  store_float(gates, dreset);
  store_float(gates + H, dupdate);
  store_float(gates + 2 * H, dcandidate);
  store_float(hidden_gates, dreset);
  store_float(hidden_gates + H, dupdate);
  store_float(hidden_gates + 2 * H, dcandidate * reset);
  args.dh[index] = grad * update;
}

namespace {

LaunchConfig gru_cell_geometry(std::int32_t batch, std::int32_t hidden, cudaStream_t stream) {
  const std::int64_t units = static_cast<std::int64_t>(batch) * hidden;
  const auto blocks = static_cast<unsigned>((units + kGruCellThreads - 1) / kGruCellThreads);
  return {dim3(blocks), dim3(kGruCellThreads), 0, stream};
}

template <class Storage>
void launch_forward(const GruCellForwardArgs<Storage>& args, cudaStream_t stream) {
  if (args.batch == 0 || args.hidden == 0) return;
  SEQTRAIN_LAUNCH(gru_cell_geometry(args.batch, args.hidden, stream),
                  gru_cell_forward_kernel<Storage>, args);
}

template <class Storage>
void launch_backward(const GruCellBackwardArgs<Storage>& args, cudaStream_t stream) {
  if (args.batch == 0 || args.hidden == 0) return;
  SEQTRAIN_LAUNCH(gru_cell_geometry(args.batch, args.hidden, stream),
                  gru_cell_backward_kernel<Storage>, args);
}

}  // namespace

void gru_cell_forward(const GruCellForwardArgs<float>& args, cudaStream_t stream) {
  launch_forward(args, stream);
}
void gru_cell_forward(const GruCellForwardArgs<__nv_bfloat16>& args, cudaStream_t stream) {
  launch_forward(args, stream);
}
void gru_cell_backward(const GruCellBackwardArgs<float>& args, cudaStream_t stream) {
  launch_backward(args, stream);
}
void gru_cell_backward(const GruCellBackwardArgs<__nv_bfloat16>& args, cudaStream_t stream) {
  launch_backward(args, stream);
}

}  // namespace seqtrain::kernels
