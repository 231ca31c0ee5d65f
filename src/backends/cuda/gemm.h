// The CUDA backend's one GEMM: row-major
//   C = alpha * op(A) op(B) + beta * C      op(A) m x k, op(B) k x n, C m x n
// on cuBLAS, which is column-major. A row-major matrix with row stride ld is
// the column-major transpose with the same ld, so the row-major product is the
// column-major C^T = op(B)^T op(A)^T: cuBLAS gets the operands swapped
// (B first), m and n swapped, and each operand's own transpose flag.
//
// Storage f32 or bf16 (A and B alike; C f32, or bf16 with bf16 inputs), always
// accumulated in fp32 (CUBLAS_COMPUTE_32F: no TF32 rounding of f32 inputs).
// Batched: batch > 1 runs cublasGemmStridedBatchedEx with element strides
// between consecutive A, B and C; stride_b 0 shares one B across the batch.
// beta 0 never reads C. Leading dimensions and strides are in elements.
#pragma once

#include <cublas_api.h>

#include <cstdint>

#include "seqtrain/tensor.h"

namespace seqtrain::cuda {

struct GemmArgs {
  bool transpose_a = false;
  bool transpose_b = false;
  std::int64_t m = 0, n = 0, k = 0;
  const void* a = nullptr;
  std::int64_t lda = 0;  // row stride of A as stored (k, or m when transposed, for a dense A)
  const void* b = nullptr;
  std::int64_t ldb = 0;
  void* c = nullptr;
  std::int64_t ldc = 0;
  float alpha = 1.0f;
  float beta = 0.0f;
  DType input_dtype = DType::f32;   // A and B
  DType output_dtype = DType::f32;  // C
  std::int64_t batch = 1;
  std::int64_t stride_a = 0, stride_b = 0, stride_c = 0;
};

// Issues the GEMM on the handle's stream. Bad arguments (a leading dimension
// smaller than a row, sizes beyond cuBLAS's int range, unsupported dtypes) are
// InternalErrors; cuBLAS failures are DeviceErrors.
void gemm(cublasHandle_t handle, const GemmArgs& args);

// The common f32 rank-2 case.
void gemm_f32(cublasHandle_t handle, bool transpose_a, bool transpose_b, std::int64_t m,
              std::int64_t n, std::int64_t k, float alpha, const float* a, std::int64_t lda,
              const float* b, std::int64_t ldb, float beta, float* c, std::int64_t ldc);

}  // namespace seqtrain::cuda
