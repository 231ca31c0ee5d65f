// The fused tanh-RNN cell update for one time step, forward and backward: the
// element-wise work between the GEMMs of the recurrent layer, one thread per
// (batch row b, hidden unit j).
//
// Forward, for a valid row (t < lengths[b]), with p = input_projection[b]
// (x_t W_ih^T) and q = recurrent[b] (h_{t-1} W_hh^T):
//   h_t = tanh(p + b_ih + q + b_hh),  y[t] = h_t
// A padded row (t >= lengths[b]) writes y = 0 and leaves h alone. Nothing is
// saved: backward needs only h_t, which is y[t].
//
// Backward, for a valid row, from G = dh + dy_t (the total gradient of h_t):
//   gate_grads[b] = da = G * (1 - h_t^2),  dh <- 0
// The same da feeds W_ih, b_ih, W_hh and b_hh. The caller adds gate_grads[t]
// W_hh into dh (one GEMM per step) and forms the weight and bias gradients over
// all steps at once (bias_grad.cu). A padded row writes a zero gate gradient and
// passes dh through.
//
// Launch geometry: a 1-D grid over the B*H (row, unit) pairs, 256 threads per
// block (a multiple of the warp; B*H need not be), no shared memory, no
// barriers. Per call, with s = sizeof(Storage) and every row valid:
//   forward  reads 3 s and writes 2 s bytes per (row, unit), plus 8 H bytes of
//            biases; 4 FLOPs and one tanh per (row, unit)
//   backward reads 2 s + 4 and writes s + 4 bytes per (row, unit); 4 FLOPs
// Both are memory bound on any GPU.
#include "kernels/device_api.h"
#include "kernels/launch.h"
#include "kernels/rnn_cell.h"
#include "kernels/storage.h"

namespace seqtrain::kernels {

constexpr int kRnnCellThreads = 256;

template <class Storage>
__global__ void __launch_bounds__(kRnnCellThreads)
    rnn_cell_forward_kernel(const RnnCellForwardArgs<Storage> args) {
  const std::int64_t H = args.hidden;
  const std::int64_t index = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index >= args.batch * H) return;
  const std::int64_t b = index / H, j = index % H;
  if (args.step >= args.lengths[b]) {
    store_float(args.y + index, 0.0f);
    return;
  }
  // recurrent may alias y: this (row, unit) is read before it is written.
  const float state =
      tanhf(load_float(args.input_projection + index) + args.bias_ih[j] +
            load_float(args.recurrent + b * args.recurrent_stride + j) + args.bias_hh[j]);
  store_float(args.h + index, state);
  store_float(args.y + index, state);
}

template <class Storage>
__global__ void __launch_bounds__(kRnnCellThreads)
    rnn_cell_backward_kernel(const RnnCellBackwardArgs<Storage> args) {
  const std::int64_t H = args.hidden;
  const std::int64_t index = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index >= args.batch * H) return;
  const std::int64_t b = index / H;
  if (args.step >= args.lengths[b]) {
    store_float(args.gate_grads + index, 0.0f);
    return;
  }
  const float state = load_float(args.y + index);
  const float grad = args.dh[index] + (args.dy != nullptr ? load_float(args.dy + index) : 0.0f);
  store_float(args.gate_grads + index, grad * (1.0f - state * state));
  args.dh[index] = 0.0f;
}

namespace {

LaunchConfig rnn_cell_geometry(std::int32_t batch, std::int32_t hidden, cudaStream_t stream) {
  const std::int64_t units = static_cast<std::int64_t>(batch) * hidden;
  const auto blocks = static_cast<unsigned>((units + kRnnCellThreads - 1) / kRnnCellThreads);
  return {dim3(blocks), dim3(kRnnCellThreads), 0, stream};
}

template <class Storage>
void launch_forward(const RnnCellForwardArgs<Storage>& args, cudaStream_t stream) {
  if (args.batch == 0 || args.hidden == 0) return;
  SEQTRAIN_LAUNCH(rnn_cell_geometry(args.batch, args.hidden, stream),
                  rnn_cell_forward_kernel<Storage>, args);
}

template <class Storage>
void launch_backward(const RnnCellBackwardArgs<Storage>& args, cudaStream_t stream) {
  if (args.batch == 0 || args.hidden == 0) return;
  SEQTRAIN_LAUNCH(rnn_cell_geometry(args.batch, args.hidden, stream),
                  rnn_cell_backward_kernel<Storage>, args);
}

}  // namespace

void rnn_cell_forward(const RnnCellForwardArgs<float>& args, cudaStream_t stream) {
  launch_forward(args, stream);
}
void rnn_cell_forward(const RnnCellForwardArgs<__nv_bfloat16>& args, cudaStream_t stream) {
  launch_forward(args, stream);
}
void rnn_cell_backward(const RnnCellBackwardArgs<float>& args, cudaStream_t stream) {
  launch_backward(args, stream);
}
void rnn_cell_backward(const RnnCellBackwardArgs<__nv_bfloat16>& args, cudaStream_t stream) {
  launch_backward(args, stream);
}

}  // namespace seqtrain::kernels
