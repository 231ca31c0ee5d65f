// The cpu backend: what users run without a GPU. GEMMs go to oneDNN (its JIT
// picks AVX-512 here), element-wise work is fused and vectorised in OpenMP
// loops, and both share one OpenMP thread pool (a second pool oversubscribes
// our cores). Held against the serial backend by tests/ops_backend_test.cc.
#pragma once

#include <map>
#include <memory>
#include <source_location>
#include <tuple>
#include <vector>

#include "backends/cpu/scratch_buffer.h"
#include "seqtrain/backend.h"

namespace seqtrain {

class CpuBackend final : public Backend {
 public:
  // threads: the OpenMP pool size for this process (0 = one per core).
  // scratch_guards: on puts guard zones around the scratch buffers
  // (scratch_buffer.h), for tests; seqtrain runs with them off.
  explicit CpuBackend(int threads, cpu::ScratchGuards scratch_guards = cpu::ScratchGuards::off);
  ~CpuBackend() override;

  std::string name() const override { return "cpu"; }
  Device device() const override { return Device::cpu; }
  int threads() const { return threads_; }
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
  // Defined in rnn.cc.
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

  // Row-major single GEMM on raw pointers, for ops (the recurrent layer) that
  // run many GEMMs on slices: C[m,n] = alpha * op(A) op(B) + beta * C, with
  // leading dimensions lda, ldb, ldc. oneDNN primitives are cached per shape.
  void gemm(bool transpose_a, bool transpose_b, std::int64_t m, std::int64_t n, std::int64_t k,
            float alpha, const float* a, std::int64_t lda, const float* b, std::int64_t ldb,
            float beta, float* c, std::int64_t ldc);

  // With scratch guards on: throws InternalError if the op that last used a
  // scratch buffer wrote outside what it reserved (every scratch request
  // checks this too). Nothing to check with them off.
  void check_scratch_guards();

 private:
  struct OneDnn;  // engine, stream and the primitive cache (cpu_gemm.cc)
  // Scratch requests: the caller's location names it if it writes outside the
  // count it asked for (scratch guards on).
  // At least `count` doubles of scratch for block partial sums (parallel.h),
  // kept between calls so reductions do not allocate once warmed up.
  double* reduction_scratch(std::int64_t count,
                            const std::source_location& user = std::source_location::current());
  // At least `count` floats of scratch for the recurrent layer's backward
  // (rnn.cc), kept between calls so replayed steps do not allocate.
  float* rnn_scratch(std::int64_t count,
                     const std::source_location& user = std::source_location::current());

  // At least `count` floats of scratch for attention (attention.cc): one slice
  // per pool thread holding a head's packed K, V and gradients and one query
  // tile's scores. Grown before the parallel loop, kept between calls.
  float* attention_scratch(std::int64_t count,
                           const std::source_location& user = std::source_location::current());

  int threads_;
  std::unique_ptr<OneDnn> onednn_;
  cpu::ScratchBuffer reduction_scratch_;
  cpu::ScratchBuffer rnn_scratch_;
  cpu::ScratchBuffer attention_scratch_;
};

}  // namespace seqtrain
