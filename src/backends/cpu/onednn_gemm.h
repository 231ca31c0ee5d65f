// The cpu backend's oneDNN state: one engine and stream, and a cache of matmul
// primitives keyed by everything that shapes the generated kernel. Creating a
// primitive JIT-compiles code (tens to hundreds of microseconds); replaying a
// cached one only points its memory objects at this call's data, so after the
// first training step no GEMM creates or allocates anything on our side.
// Like the backend that owns it, it serves one calling thread at a time.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <oneapi/dnnl/dnnl.hpp>

#include "backends/cpu/cpu_backend.h"

namespace seqtrain {

// C[b] = alpha * op(A[b]) op(B[b]) + beta * C[b] for b < batch, row-major with
// leading dimensions; batch strides in elements, stride_b = 0 shares B.
struct GemmShape {
  std::int64_t batch, m, n, k;
  bool transpose_a, transpose_b;
  std::int64_t lda, ldb, ldc;
  std::int64_t stride_a, stride_b, stride_c;
  float alpha, beta;  // compared exactly: each value is its own primitive
  bool bf16_inputs = false;  // A and B are bf16 (C stays f32)

  auto operator<=>(const GemmShape&) const = default;
};

// A primitive with memory objects whose data handles are set per call.
struct CachedGemm {
  dnnl::matmul primitive;
  dnnl::memory a, b, c, scratchpad;
  std::size_t scratchpad_bytes = 0;
};

// A transpose of op(A)'s storage: [batch] x [k, m] with row stride lda and
// batch stride stride_a, written as dense [batch] x [m, k].
struct TransposeShape {
  std::int64_t batch, m, k, lda, stride_a;

  auto operator<=>(const TransposeShape&) const = default;
};

struct CachedTranspose {
  dnnl::reorder primitive;
  dnnl::memory source, destination;
};

struct CpuBackend::OneDnn {
  explicit OneDnn(int pool_threads);
  // Runs c = alpha op(a) op(b) + beta c for one shape; creates its primitive
  // on first use. a and b point to bf16 values when shape.bf16_inputs.
  void run(const GemmShape& shape, const void* a, const void* b, float* c);

  dnnl::engine engine;
  dnnl::stream stream;
  int threads;  // the backend's pool size, re-asserted before each execution
  std::map<GemmShape, CachedGemm> cache;
  std::map<TransposeShape, CachedTranspose> transposes;
  // One scratchpad for every primitive (one runs at a time), grown to the
  // largest any of them asked for.
  Tensor scratchpad;
  // op(A) made dense for a transposed-A GEMM, grown to the largest needed.
  Tensor transposed_a;
  // bf16 copies of matmul's operands (training.precision bf16), grown likewise.
  Tensor bf16_a, bf16_b;

 private:
  CachedGemm& find_or_create(const GemmShape& shape);
  // Copies A^T of a transposed-A shape into transposed_a and returns it.
  const float* transpose_a(const GemmShape& shape, const float* a);
};

}  // namespace seqtrain
