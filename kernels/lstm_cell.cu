// The fused LSTM cell update for one time step, forward and backward: the
// element-wise work between the GEMMs of the recurrent layer, one thread per
// (batch row b, hidden unit j), so every gate row is read and written coalesced.
//
// Forward, for a valid row (t < lengths[b]), with a = input_projection[b] +
// recurrent[b] + b_ih + b_hh split into the gates (PyTorch's order i, f, g, o):
//   i = sigmoid(a_i)  f = sigmoid(a_f)  g = tanh(a_g)  o = sigmoid(a_o)
//   c_t = f * c_{t-1} + i * g            h_t = o * tanh(c_t)
//   saved[b] = (i, f, g, o, c_t)         (workspace [T, B, 5H], what backward needs)
// A padded row (t >= lengths[b]) writes y = 0 and saved = 0 and leaves h, c alone.
// Fusing the bias adds, the four activations and the state update into one pass
// reads the 8H pre-activation values and writes the 5H saved and 2H state values
// once per row instead of once per separate element-wise op.
//
// Backward, for a valid row, from G = dh + dy_t (the total gradient of h_t), the
// incoming dc and the saved activations (c_{t-1} from the previous step's saved c,
// or c0, or zero at the row's first step):
//   dc_t = dc + G * o * (1 - tanh(c_t)^2)
//   da_i = dc_t * g * i (1 - i)        da_f = dc_t * c_{t-1} * f (1 - f)
//   da_g = dc_t * i * (1 - g^2)        da_o = G * tanh(c_t) * o (1 - o)
//   gate_grads[b] = (da_i, da_f, da_g, da_o),  dc <- dc_t * f,  dh <- 0
// The caller then adds gate_grads[t] W_hh into dh (one GEMM per step) and, after
// the loop, forms the weight and bias gradients over all steps at once
// (bias_grad.cu sums the gate gradients without atomics). A padded row writes
// zero gate gradients and passes dh and dc through.
//
// Launch geometry: a 1-D grid over the B*H (row, unit) pairs, 256 threads per
// block (a multiple of the warp; B*H need not be), no shared memory, no
// barriers: the kernels are memory bound, each thread's loads and stores are
// independent. (A reverse layer's first step for row b is t = lengths[b] - 1.)
#include "kernels/device_api.h"
#include "kernels/launch.h"
#include "kernels/lstm_cell.h"
#include "kernels/storage.h"

namespace seqtrain::kernels {

constexpr int kLstmCellThreads = 256;

namespace {
__device__ __forceinline__ float sigmoid(float x) {
  return 1.0f / (1.0f + __expf(-x));
}
}  // namespace

template <class Storage>
__global__ void __launch_bounds__(kLstmCellThreads)
    lstm_cell_forward_kernel(const LstmCellForwardArgs<Storage> args) {
  const std::int64_t H = args.hidden;
  const std::int64_t index = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index >= args.batch * H) return;
  const std::int64_t b = index / H, j = index % H;
  Storage* saved = args.saved + b * 5 * H + j;
  if (args.step >= args.lengths[b]) {
    store_float(args.y + index, 0.0f);
    SEQTRAIN_UNROLL
    for (int part = 0; part < 5; ++part) store_float(saved + part * H, 0.0f);
    return;
  }
  const Storage* projected = args.input_projection + b * 4 * H + j;
  const Storage* recurrent = args.recurrent + b * args.recurrent_stride + j;
  float pre[4];
  SEQTRAIN_UNROLL
  for (int gate = 0; gate < 4; ++gate)
    pre[gate] = load_float(projected + gate * H) + load_float(recurrent + gate * H) +
                args.bias_ih[gate * H + j] + args.bias_hh[gate * H + j];
  const float i = sigmoid(pre[0]), f = sigmoid(pre[1]);
  const float g = tanhf(pre[2]), o = sigmoid(pre[3]);
  const float cell = f * args.c[index] + i * g;
  const float hidden = o * tanhf(cell);
  // recurrent may alias saved: every read of this (row, unit) is done above.
  store_float(saved, i);
  store_float(saved + H, f);
  store_float(saved + 2 * H, g);
  store_float(saved + 3 * H, o);
  store_float(saved + 4 * H, cell);
  args.c[index] = cell;
  store_float(args.h + index, hidden);
  store_float(args.y + index, hidden);
}

template <class Storage>
__global__ void __launch_bounds__(kLstmCellThreads)
    lstm_cell_backward_kernel(const LstmCellBackwardArgs<Storage> args) {
  const std::int64_t H = args.hidden;
  const std::int64_t index = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index >= args.batch * H) return;
  const std::int64_t b = index / H, j = index % H;
  Storage* gates = args.gate_grads + b * 4 * H + j;
  const std::int32_t length = args.lengths[b];
  if (args.step >= length) {
    SEQTRAIN_UNROLL
    for (int gate = 0; gate < 4; ++gate) store_float(gates + gate * H, 0.0f);
    return;
  }
  const Storage* saved = args.saved + b * 5 * H + j;
  const float i = load_float(saved), f = load_float(saved + H);
  const float g = load_float(saved + 2 * H), o = load_float(saved + 3 * H);
  const float tanh_cell = tanhf(load_float(saved + 4 * H));
  const bool first = args.reverse ? args.step == length - 1 : args.step == 0;
  float previous_cell = 0.0f;
  if (!first)
    previous_cell = load_float(args.previous_saved + b * 5 * H + 4 * H + j);
  else if (args.c0 != nullptr)
    previous_cell = args.c0[index];
  const float grad = args.dh[index] + (args.dy != nullptr ? load_float(args.dy + index) : 0.0f);
  const float dcell = args.dc[index] + grad * o * (1.0f - tanh_cell * tanh_cell);
  store_float(gates, dcell * g * i * (1.0f - i));
  store_float(gates + H, dcell * previous_cell * f * (1.0f - f));
  store_float(gates + 2 * H, dcell * i * (1.0f - g * g));
  store_float(gates + 3 * H, grad * tanh_cell * o * (1.0f - o));
  args.dc[index] = dcell * f;
  args.dh[index] = 0.0f;
}

namespace {

LaunchConfig lstm_cell_geometry(std::int32_t batch, std::int32_t hidden, cudaStream_t stream) {
  const std::int64_t units = static_cast<std::int64_t>(batch) * hidden;
  const auto blocks = static_cast<unsigned>((units + kLstmCellThreads - 1) / kLstmCellThreads);
  return {dim3(blocks), dim3(kLstmCellThreads), 0, stream};
}

template <class Storage>
void launch_forward(const LstmCellForwardArgs<Storage>& args, cudaStream_t stream) {
  if (args.batch == 0 || args.hidden == 0) return;
  SEQTRAIN_LAUNCH(lstm_cell_geometry(args.batch, args.hidden, stream),
                  lstm_cell_forward_kernel<Storage>, args);
}

template <class Storage>
void launch_backward(const LstmCellBackwardArgs<Storage>& args, cudaStream_t stream) {
  if (args.batch == 0 || args.hidden == 0) return;
  SEQTRAIN_LAUNCH(lstm_cell_geometry(args.batch, args.hidden, stream),
                  lstm_cell_backward_kernel<Storage>, args);
}

}  // namespace

void lstm_cell_forward(const LstmCellForwardArgs<float>& args, cudaStream_t stream) {
  launch_forward(args, stream);
}
void lstm_cell_forward(const LstmCellForwardArgs<__nv_bfloat16>& args, cudaStream_t stream) {
  launch_forward(args, stream);
}
void lstm_cell_backward(const LstmCellBackwardArgs<float>& args, cudaStream_t stream) {
  launch_backward(args, stream);
}
void lstm_cell_backward(const LstmCellBackwardArgs<__nv_bfloat16>& args, cudaStream_t stream) {
  launch_backward(args, stream);
}

}  // namespace seqtrain::kernels
