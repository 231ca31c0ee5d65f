// Backend: one method per op. Three backends implement the same set:
//   serial  plain loops on one thread, written for obviousness: the test oracle
//   cpu     oneDNN GEMMs, OpenMP, vectorised fused element-wise work
//   cuda    cuBLAS and the kernels in kernels/ (see the CUDA backend issue)
// The op methods and their API docs are listed once, in backend_op_methods.inc.
// All tensors are contiguous and row-major; outputs are overwritten unless the
// method says it accumulates. Shapes were checked when the graph was built.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "seqtrain/op_types.h"
#include "seqtrain/tensor.h"

namespace seqtrain {

// What one run of a graph needs besides tensors.
struct RunContext {
  std::uint64_t seed = 0;  // the run's seed
  std::uint64_t step = 0;  // the optimizer step: dropout masks differ per step
  bool training = true;    // dropout is the identity when false
  // Training: backward computes the gradient of the loss summed over the
  // batch's scored rows (mean loss times rows) instead of the mean, so the
  // micro-batches of one optimizer step weigh by their rows (optimizer_step.h).
  bool sum_loss_over_rows = false;
  // Data parallel (train/optimizer_step.h): the batch is rows [first_row,
  // first_row + rows) of a global batch of global_rows rows, and dropout and
  // attention dropout draw the masks those rows have in the global batch, so
  // N ranks see exactly what one process sees. rows = 0: the batch is whole.
  std::int64_t first_row = 0;
  std::int64_t rows = 0;
  std::int64_t global_rows = 0;
};

// Tensors of one recurrent layer in one direction, time-major.
//   x [T, B, I], weight_ih [G*H, I], weight_hh [G*H, H], bias_ih/bias_hh [G*H],
//   h0, c0 [B, H] (c0 read by LSTM only; either may be null: a zero state),
//   lengths [B] int32 (1 <= len <= T). c_n is written as zeros by GRU and rnn_tanh.
// Rows past a sequence's length leave the state unchanged and output zeros; a
// reverse layer starts at each sequence's last valid step (PyTorch's packed
// sequences). workspace [T, B, W*H] holds what backward needs (rnn_workspace_width):
//   lstm: activated gates i, f, g, o then the cell state c_t          (W = 5)
//   gru:  activated gates r, z, n then W_hn h_{t-1} + b_hn            (W = 4)
//   rnn_tanh: nothing beyond the outputs                               (W = 0)
// input_projection [T, B, G*H] is scratch for the input projection x W_ih^T
// (a backend may add b_ih there or later, in its fused cell update).
// A cuda backend made with RnnImpl::cudnn (Backend::recurrent_impl) hands the
// layer to cuDNN's RNN instead, which keeps what backward needs itself (the
// workspace and projection go unused) and accepts forward-direction layers only.
struct RnnForwardArgs {
  RnnCell cell;
  bool reverse;
  const Tensor* x;
  const Tensor* weight_ih;
  const Tensor* weight_hh;
  const Tensor* bias_ih;
  const Tensor* bias_hh;
  const Tensor* h0;
  const Tensor* c0;
  const Tensor* lengths;
  Tensor* y;
  Tensor* h_n;
  Tensor* c_n;
  Tensor* workspace;
  Tensor* input_projection;
  bool training = true;  // false: no backward follows (cuDNN then saves nothing)
};

// Gradients of one recurrent layer. dy [T, B, H], dh_n and dc_n [B, H] flow in
// (null: zero); h0 and c0 may be null as in the forward pass. Every gradient
// output is overwritten (dc0 with zeros for GRU and rnn_tanh). gate_grads
// [T, B, G*H] is scratch that lets the weight gradients be one GEMM each over
// all time steps (unused by cuDNN's layers).
struct RnnBackwardArgs {
  RnnCell cell;
  bool reverse;
  const Tensor* x;
  const Tensor* weight_ih;
  const Tensor* weight_hh;
  const Tensor* h0;
  const Tensor* c0;
  const Tensor* lengths;
  const Tensor* y;
  const Tensor* workspace;
  const Tensor* dy;
  const Tensor* dh_n;
  const Tensor* dc_n;
  Tensor* dx;
  Tensor* dweight_ih;
  Tensor* dweight_hh;
  Tensor* dbias_ih;
  Tensor* dbias_hh;
  Tensor* dh0;
  Tensor* dc0;
  Tensor* gate_grads;
};

// Dropout on the attention probabilities. Element (b, h, i, j) of the
// [B, heads, T, T] probabilities is kept when
//   philox_uniform(seed, stream, step, ((b * heads + h) * T + i) * T + j) >= probability
// and then scaled by 1 / (1 - probability): a pure function of its position, so
// backward recomputes the forward's mask instead of storing it, on every backend
// and thread count. probability 0 (evaluation) keeps everything. first_index
// is added to every element's index: a data-parallel rank's batch is rows
// [r, r + B) of the global batch, so its element (b, ...) draws what global
// element (r + b, ...) draws (first_index = r * heads * T * T).
struct AttentionDropout {
  float probability = 0.0f;
  std::uint64_t seed = 0;
  std::uint64_t stream = 0;
  std::uint64_t step = 0;
  std::uint64_t first_index = 0;
};

struct AdamWOptions {
  float learning_rate;
  float beta1;
  float beta2;
  float epsilon;
  float weight_decay;  // decoupled (Loshchilov & Hutter)
  std::int64_t step;   // 1-based, for bias correction
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  virtual Device device() const = 0;
  // Whose code runs the recurrent layers (the config's model.impl): the fused
  // cell updates on every backend; cuDNN's RNN on a cuda backend made with
  // RnnImpl::cudnn.
  virtual RnnImpl recurrent_impl() const { return RnnImpl::fused; }
  virtual Tensor allocate(const Shape& shape, DType dtype) = 0;
  // Copies between a host tensor and a tensor of this backend (same shape).
  virtual void copy_from_host(const Tensor& host, Tensor& target) = 0;
  virtual void copy_to_host(const Tensor& source, Tensor& host) = 0;
  virtual void fill_zero(Tensor& x) = 0;
  // Waits until the work this backend has queued is done (a GPU's stream:
  // benchmarks time with it). Host backends finish each call before it
  // returns, so by default there is nothing to wait for.
  virtual void synchronize() {}
  // The precision of the GEMM inputs of matmul (and of the recurrent layers'
  // products): fp32, or bf16, where f32 operands are rounded to bf16 (round
  // to nearest even) as they enter the product and accumulated in fp32 into
  // an f32 result. A backend that cannot do bf16 throws ConfigError saying
  // why; this base class has fp32 only.
  virtual void set_gemm_precision(Precision precision);
  Precision gemm_precision() const { return gemm_precision_; }

  // The op methods, one pure virtual method each; their list and API docs are
  // in backend_op_methods.inc, which every backend's header expands again as
  // overrides.
#define SEQTRAIN_BACKEND_OP(result, name, parameters) virtual result name parameters = 0;
#include "seqtrain/backend_op_methods.inc"

  // The sum of sum_of_squares over tensors: the square of the global gradient
  // norm. A backend may do it in one pass (cuda: one launch and one wait for
  // the whole model instead of one per tensor).
  virtual double total_sum_of_squares(const std::vector<const Tensor*>& tensors) {
    double total = 0.0;
    for (const Tensor* x : tensors) total += sum_of_squares(*x);
    return total;
  }

 protected:
  Precision gemm_precision_ = Precision::fp32;
};

// The backends built into this binary. "serial" and "cpu" always exist.
std::unique_ptr<Backend> make_serial_backend();
std::unique_ptr<Backend> make_cpu_backend(int threads);
// The CUDA backend on device device_index; a DeviceError when this build has
// no CUDA backend or the device cannot be used (src/backends/device_selection.h
// says which devices answer).
std::unique_ptr<Backend> make_cuda_backend(int device_index,
                                           RnnImpl recurrent_impl = RnnImpl::fused);

}  // namespace seqtrain
