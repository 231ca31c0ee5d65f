// Backend: one method per op. Three backends implement the same set:
//   serial  plain loops on one thread, written for obviousness: the test oracle
//   cpu     oneDNN GEMMs, OpenMP, vectorised fused element-wise work
//   cuda    cuBLAS and the kernels in kernels/ (see the CUDA backend issue)
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
// and thread count. probability 0 (evaluation) keeps everything.
struct AttentionDropout {
  float probability = 0.0f;
  std::uint64_t seed = 0;
  std::uint64_t stream = 0;
  std::uint64_t step = 0;
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

  // c = alpha * op(a) op(b) + beta * c, where op transposes the last two axes
  // when asked. Rank 2, or rank 3 with a shared batch (b may be rank 2: the same
  // matrix for every batch entry).
  virtual void matmul(const Tensor& a, const Tensor& b, Tensor& c, bool transpose_a,
                      bool transpose_b, float alpha, float beta) = 0;
  // out[r, :] = x[r, :] + bias for every row r of x viewed as [rows, bias.numel()].
  virtual void bias_add(const Tensor& x, const Tensor& bias, Tensor& out) = 0;
  // bias_grad = sum over rows of dy.
  virtual void bias_grad(const Tensor& dy, Tensor& bias_grad) = 0;
  virtual void add(const Tensor& a, const Tensor& b, Tensor& out) = 0;
  virtual void mul(const Tensor& a, const Tensor& b, Tensor& out) = 0;
  virtual void scale(const Tensor& x, float factor, Tensor& out) = 0;
  // target += x
  virtual void accumulate(const Tensor& x, Tensor& target) = 0;

  virtual void activation_forward(Activation activation, const Tensor& x, Tensor& y) = 0;
  // dx = dy * activation'(x); y is the forward output (sigmoid and tanh use it).
  virtual void activation_backward(Activation activation, const Tensor& x, const Tensor& y,
                                   const Tensor& dy, Tensor& dx) = 0;

  // Softmax over the last axis.
  virtual void softmax_forward(const Tensor& x, Tensor& y) = 0;
  virtual void softmax_backward(const Tensor& y, const Tensor& dy, Tensor& dx) = 0;

  // logits [N, C], targets [N] int32. loss [1] = mean over rows whose target is
  // not ignore_index of -log softmax(logits)[target] (0 when every row is
  // ignored); log_sum_exp [N] is saved for backward.
  virtual void cross_entropy_forward(const Tensor& logits, const Tensor& targets,
                                     std::int64_t ignore_index, Tensor& loss,
                                     Tensor& log_sum_exp) = 0;
  virtual void cross_entropy_backward(const Tensor& logits, const Tensor& targets,
                                      const Tensor& log_sum_exp, const Tensor& dloss,
                                      std::int64_t ignore_index, Tensor& dlogits) = 0;

  // loss [1] = mean((prediction - target)^2)
  virtual void mse_forward(const Tensor& prediction, const Tensor& target, Tensor& loss) = 0;
  virtual void mse_backward(const Tensor& prediction, const Tensor& target, const Tensor& dloss,
                            Tensor& dprediction) = 0;

  // Over the last axis of x [N, D]: y = (x - mean) * rstd * gamma + beta.
  // mean and rstd [N] are saved for backward.
  virtual void layernorm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                 float epsilon, Tensor& y, Tensor& mean, Tensor& rstd) = 0;
  virtual void layernorm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean,
                                  const Tensor& rstd, const Tensor& dy, Tensor& dx,
                                  Tensor& dgamma, Tensor& dbeta) = 0;

  // y = x * mask, mask = keep / (1 - p) with keep ~ Bernoulli(1 - p) drawn from
  // philox(seed, stream, step, element): the same on every backend and thread count.
  virtual void dropout_forward(const Tensor& x, float probability, std::uint64_t seed,
                               std::uint64_t stream, std::uint64_t step, Tensor& y,
                               Tensor& mask) = 0;

  // table [V, D], ids [...] int32 -> out [..., D]. Ids outside [0, V) are a
  // DataError naming the id.
  virtual void embedding_forward(const Tensor& table, const Tensor& ids, Tensor& out) = 0;
  virtual void embedding_backward(const Tensor& ids, const Tensor& dout, Tensor& dtable) = 0;

  // [A, B, C] -> [B, A, C]
  virtual void transpose01(const Tensor& x, Tensor& out) = 0;
  // Along the last axis: out = [a | b]; split is its inverse.
  virtual void concat_last(const Tensor& a, const Tensor& b, Tensor& out) = 0;
  virtual void split_last(const Tensor& x, Tensor& a, Tensor& b) = 0;
  // x [T, B, H] -> out [B, H]: row b at time lengths[b] - 1, or at time 0 when
  // reverse (the last step a reverse-direction layer computes).
  virtual void sequence_last(const Tensor& x, const Tensor& lengths, bool reverse,
                             Tensor& out) = 0;
  virtual void sequence_last_backward(const Tensor& dout, const Tensor& lengths, bool reverse,
                                      Tensor& dx) = 0;

  virtual void rnn_forward(const RnnForwardArgs& args) = 0;
  virtual void rnn_backward(const RnnBackwardArgs& args) = 0;

  // Multi-head self-attention over the output of one fused QKV projection.
  //   qkv [B, T, 3, heads, d]: row (b, t) of the GEMM [B*T, hidden] x W_qkv^T,
  //     hidden = heads * d, viewed as (q | k | v) x heads x d, so
  //     q_bh[i] = qkv[b, i, 0, h, :], k_bh[j] = qkv[b, j, 1, h, :], v_bh[j] = qkv[b, j, 2, h, :]
  //   key_lengths [B] int32 in [0, T]: keys j >= key_lengths[b] are masked out
  //     (a DataError names the first length outside the range). Queries at
  //     padded positions still attend to the valid keys; a length of 0 gives
  //     zero context and log_sum_exp -inf.
  // With scale = 1 / sqrt(d), for every (b, h) and query i, over keys j < L_b:
  //   s_ij = scale * q_i . k_j
  //   log_sum_exp[b, h, i] = lse_i = log sum_j exp(s_ij)
  //   p_ij = exp(s_ij - lse_i),  z_ij = dropout factor (0 or 1 / (1 - probability))
  //   context[b, i, h*d : (h+1)*d] = o_i = sum_j p_ij z_ij v_j
  // context [B, T, heads * d] has the heads concatenated, ready for the output
  // projection. The T x T probabilities are never stored: backward recomputes
  // them from q, k and lse (FlashAttention-2):
  //   D_i = dO_i . o_i                         (= sum_j p_ij z_ij dO_i . v_j)
  //   dp_ij = z_ij dO_i . v_j,  ds_ij = p_ij (dp_ij - D_i)
  //   dq_i = scale sum_j ds_ij k_j,  dk_j = scale sum_i ds_ij q_i,
  //   dv_j = sum_i p_ij z_ij dO_i
  // dqkv [B, T, 3, heads, d] (same layout as qkv) is overwritten; masked keys
  // get zero dk and dv.
  virtual void attention_forward(const Tensor& qkv, const Tensor& key_lengths,
                                 const AttentionDropout& dropout, Tensor& context,
                                 Tensor& log_sum_exp) = 0;
  virtual void attention_backward(const Tensor& qkv, const Tensor& key_lengths,
                                  const Tensor& context, const Tensor& log_sum_exp,
                                  const Tensor& dcontext, const AttentionDropout& dropout,
                                  Tensor& dqkv) = 0;

  // Optimizer support.
  // Sum of squares of all elements (for the global gradient norm).
  virtual double sum_of_squares(const Tensor& x) = 0;
  // The sum of sum_of_squares over tensors: the square of the global gradient
  // norm. A backend may do it in one pass (cuda: one launch and one wait for
  // the whole model instead of one per tensor).
  virtual double total_sum_of_squares(const std::vector<const Tensor*>& tensors) {
    double total = 0.0;
    for (const Tensor* x : tensors) total += sum_of_squares(*x);
    return total;
  }
  // AdamW on one parameter; m and v are its moment estimates.
  virtual void adamw_update(Tensor& parameter, const Tensor& grad, Tensor& m, Tensor& v,
                            const AdamWOptions& options) = 0;
  // SGD with (heavy-ball) momentum: velocity = momentum * velocity + grad + wd * p;
  // p -= lr * velocity.
  virtual void sgd_update(Tensor& parameter, const Tensor& grad, Tensor& velocity,
                          float learning_rate, float momentum, float weight_decay) = 0;
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
