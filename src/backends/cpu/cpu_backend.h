// The cpu backend: what users run without a GPU. GEMMs go to oneDNN (its JIT
// picks AVX-512 here), attention runs kernels of the widest vector ISA the
// CPU has (cpu_isa.h), element-wise work is fused and vectorised in OpenMP
// loops, and both share one OpenMP thread pool (a second pool oversubscribes
// our cores). Held against the serial backend by tests/ops_backend_test.cc.
#pragma once

#include <map>
#include <memory>
#include <source_location>
#include <tuple>
#include <vector>

#include "backends/cpu/attention_kernels.h"
#include "backends/cpu/cpu_isa.h"
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
  // The vector ISA of the hand-written kernels it runs (cpu_isa.h).
  cpu::CpuIsa isa() const { return isa_; }
  // The float lanes of the attention kernels it runs (8 for avx2, 16 for avx512).
  int attention_float_lanes() const { return attention_kernels_->float_lanes; }
  Tensor allocate(const Shape& shape, DType dtype) override;
  void copy_from_host(const Tensor& host, Tensor& target) override;
  void copy_to_host(const Tensor& source, Tensor& host) override;
  void fill_zero(Tensor& x) override;
  // bf16 where the CPU has avx512_bf16 or AMX (oneDNN's bf16 GEMMs for
  // matmul; the recurrent layers' products stay fp32); ConfigError elsewhere.
  void set_gemm_precision(Precision precision) override;

  // The op methods (seqtrain/backend_op_methods.inc), defined in cpu_*.cc but for
  // rnn_* (rnn.cc) and attention_* (attention.cc).
#define SEQTRAIN_BACKEND_OP(result, name, parameters) result name parameters override;
#include "seqtrain/backend_op_methods.inc"

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
  cpu::CpuIsa isa_;
  const cpu::AttentionKernels* attention_kernels_;  // of isa_'s variant
  std::unique_ptr<OneDnn> onednn_;
  cpu::ScratchBuffer reduction_scratch_;
  cpu::ScratchBuffer rnn_scratch_;
  cpu::ScratchBuffer attention_scratch_;
};

}  // namespace seqtrain
