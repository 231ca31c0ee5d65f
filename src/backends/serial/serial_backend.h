// The serial backend: every op as plain loops on one thread, written to be
// obviously right. It is the oracle the cpu and cuda backends are tested
// against, and the "serial" column of the hardware-affinity comparison.
#pragma once

#include "seqtrain/backend.h"

namespace seqtrain {

class SerialBackend final : public Backend {
 public:
  std::string name() const override { return "serial"; }
  Device device() const override { return Device::cpu; }
  Tensor allocate(const Shape& shape, DType dtype) override;
  void copy_from_host(const Tensor& host, Tensor& target) override;
  void copy_to_host(const Tensor& source, Tensor& host) override;
  void fill_zero(Tensor& x) override;

  void matmul(const Tensor& a, const Tensor& b, Tensor& c, bool transpose_a, bool transpose_b,
              float alpha, float beta) override;
  void bias_add(const Tensor& x, const Tensor& bias, Tensor& out) override;
  void bias_grad(const Tensor& dy, Tensor& bias_grad) override;
  void add(const Tensor& a, const Tensor& b, Tensor& out) override;
  void mul(const Tensor& a, const Tensor& b, Tensor& out) override;
  void scale(const Tensor& x, float factor, Tensor& out) override;
  void accumulate(const Tensor& x, Tensor& target) override;
  void activation_forward(Activation activation, const Tensor& x, Tensor& y) override;
  void activation_backward(Activation activation, const Tensor& x, const Tensor& y,
                           const Tensor& dy, Tensor& dx) override;
  void softmax_forward(const Tensor& x, Tensor& y) override;
  void softmax_backward(const Tensor& y, const Tensor& dy, Tensor& dx) override;
  void cross_entropy_forward(const Tensor& logits, const Tensor& targets,
                             std::int64_t ignore_index, Tensor& loss,
                             Tensor& log_sum_exp) override;
  void cross_entropy_backward(const Tensor& logits, const Tensor& targets,
                              const Tensor& log_sum_exp, const Tensor& dloss,
                              std::int64_t ignore_index, Tensor& dlogits) override;
  void mse_forward(const Tensor& prediction, const Tensor& target, Tensor& loss) override;
  void mse_backward(const Tensor& prediction, const Tensor& target, const Tensor& dloss,
                    Tensor& dprediction) override;
  void layernorm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, float epsilon,
                         Tensor& y, Tensor& mean, Tensor& rstd) override;
  void layernorm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean,
                          const Tensor& rstd, const Tensor& dy, Tensor& dx, Tensor& dgamma,
                          Tensor& dbeta) override;
  void dropout_forward(const Tensor& x, float probability, std::uint64_t seed,
                       std::uint64_t stream, std::uint64_t step, Tensor& y,
                       Tensor& mask) override;
  void embedding_forward(const Tensor& table, const Tensor& ids, Tensor& out) override;
  void embedding_backward(const Tensor& ids, const Tensor& dout, Tensor& dtable) override;
  void transpose01(const Tensor& x, Tensor& out) override;
  void concat_last(const Tensor& a, const Tensor& b, Tensor& out) override;
  void split_last(const Tensor& x, Tensor& a, Tensor& b) override;
  void sequence_last(const Tensor& x, const Tensor& lengths, bool reverse, Tensor& out) override;
  void sequence_last_backward(const Tensor& dout, const Tensor& lengths, bool reverse,
                              Tensor& dx) override;
  void rnn_forward(const RnnForwardArgs& args) override;
  void rnn_backward(const RnnBackwardArgs& args) override;
  // Defined in attention.cc.
  void attention_forward(const Tensor& qkv, const Tensor& key_lengths,
                         const AttentionDropout& dropout, Tensor& context,
                         Tensor& log_sum_exp) override;
  void attention_backward(const Tensor& qkv, const Tensor& key_lengths, const Tensor& context,
                          const Tensor& log_sum_exp, const Tensor& dcontext,
                          const AttentionDropout& dropout, Tensor& dqkv) override;
  double sum_of_squares(const Tensor& x) override;
  void adamw_update(Tensor& parameter, const Tensor& grad, Tensor& m, Tensor& v,
                    const AdamWOptions& options) override;
  void sgd_update(Tensor& parameter, const Tensor& grad, Tensor& velocity, float learning_rate,
                  float momentum, float weight_decay) override;
};

}  // namespace seqtrain
