// The cuda recurrent layer (LSTM, GRU, tanh RNN): the same GEMM structure as
// the cpu backend (backends/cpu/rnn.cc), with cuBLAS for the GEMMs and the
// fused cell kernels (kernels/lstm_cell.cu, gru_cell.cu, rnn_cell.cu) for the
// element-wise work of each step. All on the
// backend's stream; the host only reads the sequence lengths (to check them
// and to skip the GEMMs of steps no row reaches).
//
// Forward, T steps of batch B, input I, hidden H, G gates (4, 3, 1):
//   input_projection = x W_ih^T                  one GEMM [T*B, I] x [I, G*H]
//   per step t (in processing order):
//     h_{t-1} W_hh^T                             one GEMM [B, H] x [H, G*H] into
//                                                the step's workspace gate slots
//                                                (ldc W*H; y[t] for rnn_tanh)
//     the cell kernel: gates and h_t (and c_t) from there, the projection and
//                      both biases; overwrites the slots with what backward
//                      needs (lstm i, f, g, o, c_t; gru r, z, n, hn)
//   h and c run in h_n / c_n (c_n zeros for GRU and rnn_tanh).
//
// Backward, steps in the opposite order, dh and dc running in dh0 / dc0:
//   per step t: the cell kernel writes gate_grads[t] (and dc_{t-1}), then
//               dh += gate_grads[t] W_hh          one GEMM [B, G*H] x [G*H, H]
//   GRU: W_hh's n rows see r * da_n where W_ih's see da_n, so its kernel also
//   writes hidden-side gate gradients (scratch [T, B, 3H]) that the dh GEMM,
//   dW_hh and db_hh use instead.
//   then over all steps:
//     dW_ih = gate_grads^T x                      one GEMM [G*H, T*B] x [T*B, I]
//     dW_hh = sum_t gate_grads[t]^T h_{t-1}: h_{t-1} is y at the previous step
//             in processing order, so it is one GEMM over the T-1 steps that
//             have one ([G*H, (T-1)*B] x [(T-1)*B, H], y shifted by a step),
//             plus gate_grads at each row's first step times h0. Padded steps
//             have zero gate gradients and y = 0 there, so a reverse layer's
//             first step (t = len - 1) meets y[len] = 0 and adds nothing.
//     dx    = gate_grads W_ih                     one GEMM [T*B, G*H] x [G*H, I]
//     db_ih = db_hh = column sums of gate_grads   (kernels/bias_grad.cu; GRU's
//                                                  db_hh from the hidden side)
// No gather of [x | H_prev] as on the cpu: the shifted y is already in place.
//
// A backend made with RnnImpl::cudnn hands the layer to cuDNN instead (cudnn_rnn.h).
#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include <algorithm>

#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/cuda_errors.h"
#include "backends/cuda/cudnn_rnn.h"
#include "backends/cuda/gemm.h"
#include "backends/cuda/storage_dispatch.h"
#include "backends/rnn_layout.h"
#include "kernels/bias_grad.h"
#include "kernels/gru_cell.h"
#include "kernels/lstm_cell.h"
#include "kernels/rnn_cell.h"

namespace seqtrain {

using cuda::to_int32;

namespace {

void expect_supported(const Tensor& x) {
  SEQTRAIN_CHECK(x.dtype() == DType::f32 && x.device() == Device::cuda,
                 "cuda recurrent layer on a {} {} input", device_name(x.device()),
                 dtype_name(x.dtype()));
}

const float* data_or_null(const Tensor* tensor) {
  return tensor != nullptr ? tensor->data<float>() : nullptr;
}

}  // namespace

std::vector<std::int32_t> CudaBackend::host_lengths(const Tensor& lengths, std::int64_t steps,
                                                    std::int64_t& longest) {
  std::vector<std::int32_t> values(static_cast<std::size_t>(lengths.numel()));
  Tensor host = Tensor::view(values.data(), lengths.shape(), DType::i32);
  copy_to_host(lengths, host);
  longest = longest_sequence(values.data(), lengths.numel(), steps);
  return values;
}

CudnnRnn& CudaBackend::cudnn_rnn() {
  if (cudnn_rnn_ == nullptr) cudnn_rnn_ = make_cudnn_rnn(stream_, allocator_);
  return *cudnn_rnn_;
}

void CudaBackend::rnn_forward(const RnnForwardArgs& a) {
  expect_supported(*a.x);
  const RnnShape n = rnn_shape(a.cell, *a.x, *a.weight_hh);
  const std::int64_t T = n.steps, B = n.batch, H = n.hidden, GH = n.gate_width;
  const std::int64_t W = n.workspace_width;
  std::int64_t longest = 0;
  const std::vector<std::int32_t> host = host_lengths(*a.lengths, T, longest);
  if (recurrent_impl_ == RnnImpl::cudnn) {
    cudnn_rnn().forward(a, host);
    return;
  }

  float* projection = a.input_projection->data<float>();
  cuda::gemm_f32(cublas_, false, true, T * B, GH, n.input, 1.0f, a.x->data<float>(), n.input,
                 a.weight_ih->data<float>(), n.input, 0.0f, projection, GH);
  copy_or_zero(a.h0, *a.h_n);
  copy_or_zero(a.cell == RnnCell::lstm ? a.c0 : nullptr, *a.c_n);

  const std::int32_t batch = to_int32(B, "batch"), hidden = to_int32(H, "hidden size");
  const std::int32_t* lengths = a.lengths->data<std::int32_t>();
  const float* bias_ih = a.bias_ih->data<float>();
  const float* bias_hh = a.bias_hh->data<float>();
  const float* weight_hh = a.weight_hh->data<float>();
  float* h = a.h_n->data<float>();
  for (std::int64_t position = 0; position < T; ++position) {
    const std::int64_t t = a.reverse ? T - 1 - position : position;
    const auto step = static_cast<std::int32_t>(t);
    float* y = a.y->data<float>() + t * B * H;
    // The recurrent GEMM writes where the cell kernel reads and overwrites it
    // in place: the step's workspace gate slots, or y for rnn_tanh (which
    // saves nothing). A step no row reaches needs none.
    float* saved = W > 0 ? a.workspace->data<float>() + t * B * W : nullptr;
    float* recurrent = saved != nullptr ? saved : y;
    const std::int64_t recurrent_stride = saved != nullptr ? W : H;
    if (t < longest)
      cuda::gemm_f32(cublas_, false, true, B, GH, H, 1.0f, h, H, weight_hh, H, 0.0f, recurrent,
                     recurrent_stride);
    const float* projected = projection + t * B * GH;
    switch (a.cell) {
      case RnnCell::lstm:
        kernels::lstm_cell_forward(
            {batch, hidden, step, lengths, projected, recurrent, recurrent_stride, bias_ih, bias_hh,
             h, a.c_n->data<float>(), y, saved},
            stream_);
        break;
      case RnnCell::gru:
        kernels::gru_cell_forward({batch, hidden, step, lengths, projected, recurrent,
                                   recurrent_stride, bias_ih, bias_hh, h, y, saved},
                                  stream_);
        break;
      case RnnCell::rnn_tanh:
        kernels::rnn_cell_forward({batch, hidden, step, lengths, projected, recurrent,
                                   recurrent_stride, bias_ih, bias_hh, h, y},
                                  stream_);
        break;
    }
  }
}

void CudaBackend::rnn_backward(const RnnBackwardArgs& a) {
  expect_supported(*a.x);
  const RnnShape n = rnn_shape(a.cell, *a.x, *a.weight_hh);
  const std::int64_t T = n.steps, B = n.batch, H = n.hidden, GH = n.gate_width, I = n.input;
  const std::int64_t W = n.workspace_width;
  std::int64_t longest = 0;
  const std::vector<std::int32_t> lengths = host_lengths(*a.lengths, T, longest);
  if (recurrent_impl_ == RnnImpl::cudnn) {
    cudnn_rnn().backward(a, lengths);
    return;
  }

  copy_or_zero(a.dh_n, *a.dh0);
  copy_or_zero(a.cell == RnnCell::lstm ? a.dc_n : nullptr, *a.dc0);
  float* gate_grads = a.gate_grads->data<float>();
  // GRU: the hidden side's gate gradients differ from gate_grads in the n gate.
  std::shared_ptr<void> hidden_side;
  float* hidden_gate_grads = gate_grads;
  if (a.cell == RnnCell::gru) {
    hidden_side = scratch(static_cast<std::size_t>(T * B * GH) * sizeof(float));
    hidden_gate_grads = static_cast<float*>(hidden_side.get());
  }
  const float* workspace = W > 0 ? a.workspace->data<float>() : nullptr;
  const float* weight_hh = a.weight_hh->data<float>();
  const float* y = a.y->data<float>();
  const std::int32_t batch = to_int32(B, "batch"), hidden = to_int32(H, "hidden size");
  const std::int32_t* device_lengths = a.lengths->data<std::int32_t>();
  float* dh = a.dh0->data<float>();

  for (std::int64_t position = 0; position < T; ++position) {
    const std::int64_t t = a.reverse ? position : T - 1 - position;
    const std::int64_t previous_t = a.reverse ? t + 1 : t - 1;
    const bool has_previous = previous_t >= 0 && previous_t < T;
    const auto step = static_cast<std::int32_t>(t);
    const float* dy = a.dy != nullptr ? a.dy->data<float>() + t * B * H : nullptr;
    float* gates = gate_grads + t * B * GH;
    switch (a.cell) {
      case RnnCell::lstm:
        kernels::lstm_cell_backward(
            {batch, hidden, step, a.reverse, device_lengths, workspace + t * B * W,
             has_previous ? workspace + previous_t * B * W : nullptr, data_or_null(a.c0), dy, dh,
             a.dc0->data<float>(), gates},
            stream_);
        break;
      case RnnCell::gru:
        kernels::gru_cell_backward(
            {batch, hidden, step, a.reverse, device_lengths, workspace + t * B * W,
             has_previous ? y + previous_t * B * H : nullptr, data_or_null(a.h0), dy, dh, gates,
             hidden_gate_grads + t * B * GH},
            stream_);
        break;
      case RnnCell::rnn_tanh:
        kernels::rnn_cell_backward(
            {batch, hidden, step, device_lengths, y + t * B * H, dy, dh, gates}, stream_);
        break;
    }
    if (t < longest)  // no row reaches a later step: its gate gradients are zero
      cuda::gemm_f32(cublas_, false, false, B, H, GH, 1.0f, hidden_gate_grads + t * B * GH, GH,
                     weight_hh, H, 1.0f, dh, H);
  }

  // dW_ih = gate_grads^T x over all steps.
  cuda::gemm_f32(cublas_, true, false, GH, I, T * B, 1.0f, gate_grads, GH, a.x->data<float>(), I,
                 0.0f, a.dweight_ih->data<float>(), I);
  // dW_hh: the steps with a previous step in processing order against y there.
  float* dweight_hh = a.dweight_hh->data<float>();
  const float* later_gates = a.reverse ? hidden_gate_grads : hidden_gate_grads + B * GH;
  const float* previous_y = a.reverse ? y + B * H : y;
  cuda::gemm_f32(cublas_, true, false, GH, H, (T - 1) * B, 1.0f, later_gates, GH, previous_y, H,
                 0.0f, dweight_hh, H);
  if (a.h0 != nullptr) {
    // Each row's first step against h0: step 0 for every row going forward;
    // going backward step len - 1, gathered row by row.
    const float* first_gates = hidden_gate_grads;
    std::shared_ptr<void> gathered;
    if (a.reverse) {
      gathered = scratch(static_cast<std::size_t>(B * GH) * sizeof(float));
      auto* rows = static_cast<float*>(gathered.get());
      for (std::int64_t b = 0; b < B; ++b)
        CUDA_CHECK(cudaMemcpyAsync(
            rows + b * GH, hidden_gate_grads + ((lengths[b] - 1) * B + b) * GH,
            static_cast<std::size_t>(GH) * sizeof(float), cudaMemcpyDeviceToDevice, stream_));
      first_gates = rows;
    }
    cuda::gemm_f32(cublas_, true, false, GH, H, B, 1.0f, first_gates, GH, a.h0->data<float>(), H,
                   1.0f, dweight_hh, H);
  }
  cuda::gemm_f32(cublas_, false, false, T * B, I, GH, 1.0f, gate_grads, GH,
                 a.weight_ih->data<float>(), I, 0.0f, a.dx->data<float>(), I);
  bias_grad(Tensor::view(gate_grads, {T * B, GH}, DType::f32, Device::cuda), *a.dbias_ih);
  if (a.cell == RnnCell::gru)
    bias_grad(Tensor::view(hidden_gate_grads, {T * B, GH}, DType::f32, Device::cuda), *a.dbias_hh);
  else
    copy_or_zero(a.dbias_ih, *a.dbias_hh);
}

}  // namespace seqtrain
