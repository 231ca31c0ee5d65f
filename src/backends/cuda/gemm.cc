#include "backends/cuda/gemm.h"

#include <cublas_api.h>

#include <algorithm>
#include <limits>

#include "backends/cuda/cuda_errors.h"

namespace seqtrain::cuda {
namespace {

cudaDataType cuda_type(DType dtype) {
  switch (dtype) {
    case DType::f32: return CUDA_R_32F;
    case DType::bf16: return CUDA_R_16BF;
    case DType::i32: break;
  }
  SEQTRAIN_CHECK(false, "GEMM on {} storage", dtype_name(dtype));
  return CUDA_R_32F;
}

int to_int(std::int64_t value, const char* what) {
  SEQTRAIN_CHECK(value >= 0 && value <= std::numeric_limits<int>::max(),
                 "GEMM {} = {} is outside cuBLAS's int range", what, value);
  return static_cast<int>(value);
}

}  // namespace

void gemm(cublasHandle_t handle, const GemmArgs& g) {
  SEQTRAIN_CHECK(g.input_dtype == g.output_dtype || g.output_dtype == DType::f32,
                 "GEMM with {} inputs and {} output", dtype_name(g.input_dtype),
                 dtype_name(g.output_dtype));
  SEQTRAIN_CHECK(g.batch >= 1, "GEMM batch {}", g.batch);
  // Row strides must cover a row of each operand as stored.
  SEQTRAIN_CHECK(g.lda >= std::max<std::int64_t>(1, g.transpose_a ? g.m : g.k) &&
                     g.ldb >= std::max<std::int64_t>(1, g.transpose_b ? g.k : g.n) &&
                     g.ldc >= std::max<std::int64_t>(1, g.n),
                 "GEMM m {} n {} k {} transposes {} {} with lda {} ldb {} ldc {}", g.m, g.n, g.k,
                 g.transpose_a, g.transpose_b, g.lda, g.ldb, g.ldc);
  if (g.m == 0 || g.n == 0) return;
  const cudaDataType input_type = cuda_type(g.input_dtype);
  const cudaDataType output_type = cuda_type(g.output_dtype);
  // Column-major C^T (n x m) = op(B)^T (n x k) op(A)^T (k x m).
  const cublasOperation_t op_first = g.transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_second = g.transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int m = to_int(g.n, "n"), n = to_int(g.m, "m"), k = to_int(g.k, "k");
  const int ld_first = to_int(g.ldb, "ldb"), ld_second = to_int(g.lda, "lda");
  const int ldc = to_int(g.ldc, "ldc");
  if (g.batch == 1) {
    CUBLAS_CHECK(cublasGemmEx(handle, op_first, op_second, m, n, k, &g.alpha, g.b, input_type,
                              ld_first, g.a, input_type, ld_second, &g.beta, g.c, output_type, ldc,
                              CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    return;
  }
  CUBLAS_CHECK(cublasGemmStridedBatchedEx(
      handle, op_first, op_second, m, n, k, &g.alpha, g.b, input_type, ld_first, g.stride_b, g.a,
      input_type, ld_second, g.stride_a, &g.beta, g.c, output_type, ldc, g.stride_c,
      to_int(g.batch, "batch"), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

void gemm_f32(cublasHandle_t handle, bool transpose_a, bool transpose_b, std::int64_t m,
              std::int64_t n, std::int64_t k, float alpha, const float* a, std::int64_t lda,
              const float* b, std::int64_t ldb, float beta, float* c, std::int64_t ldc) {
  GemmArgs args;
  args.transpose_a = transpose_a;
  args.transpose_b = transpose_b;
  args.m = m;
  args.n = n;
  args.k = k;
  args.a = a;
  args.lda = lda;
  args.b = b;
  args.ldb = ldb;
  args.c = c;
  args.ldc = ldc;
  args.alpha = alpha;
  args.beta = beta;
  gemm(handle, args);
}

}  // namespace seqtrain::cuda
