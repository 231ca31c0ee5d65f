// The cuBLAS functions the CUDA backend calls, answered on the CPU with
// cuBLAS's column-major semantics (emulated_device.h). The GEMMs are plain
// loops: op(A) is m x k, op(B) is k x n, C is m x n, element (i, j) of a stored
// matrix X with leading dimension ldx is X[i + j * ldx]; op N reads A(i, p) =
// A[i + p * lda] (A stored m x k, lda >= m), op T reads A[p + i * lda] (A stored
// k x m, lda >= k); likewise for B. Products accumulate in fp32, as
// CUBLAS_COMPUTE_32F does, and C = alpha * sum + beta * C, with C not read when
// beta is 0.
#include <cublas_api.h>
#include <cuda_bf16.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>

#include "kernels/emu/runtime/device_state.h"
#include "kernels/emu/runtime/emulated_device.h"

struct cublasContext {
  cudaStream_t stream = nullptr;
  cublasMath_t math_mode = CUBLAS_DEFAULT_MATH;
};

namespace {

namespace runtime = seqtrain::emu::runtime;

std::size_t element_bytes(cudaDataType type) {
  return type == CUDA_R_32F ? 4 : 2;
}

float load(const void* base, cudaDataType type, std::int64_t index) {
  if (type == CUDA_R_32F) return static_cast<const float*>(base)[index];
  return __bfloat162float(static_cast<const __nv_bfloat16*>(base)[index]);
}

void store(void* base, cudaDataType type, std::int64_t index, float value) {
  if (type == CUDA_R_32F)
    static_cast<float*>(base)[index] = value;
  else
    static_cast<__nv_bfloat16*>(base)[index] = __float2bfloat16(value);
}

bool supported_types(cudaDataType a, cudaDataType b, cudaDataType c, cublasComputeType_t compute) {
  const bool fp32_compute = compute == CUBLAS_COMPUTE_32F || compute == CUBLAS_COMPUTE_32F_PEDANTIC;
  if (a == CUDA_R_32F && b == CUDA_R_32F && c == CUDA_R_32F)
    return fp32_compute || compute == CUBLAS_COMPUTE_32F_FAST_TF32 ||
           compute == CUBLAS_COMPUTE_32F_FAST_16BF;
  return a == CUDA_R_16BF && b == CUDA_R_16BF && (c == CUDA_R_16BF || c == CUDA_R_32F) &&
         fp32_compute;
}

struct Operand {
  const void* data;
  cudaDataType type;
  std::int64_t ld;
  bool transposed;
  std::int64_t rows, cols;  // as stored (column-major)
};

Operand operand(const void* data, cudaDataType type, int ld, cublasOperation_t operation,
                std::int64_t op_rows, std::int64_t op_cols) {
  const bool transposed = operation != CUBLAS_OP_N;
  return {
      data, type, ld, transposed, transposed ? op_cols : op_rows, transposed ? op_rows : op_cols};
}

// Elements from the first to one past the last that a stored rows x cols matrix spans.
std::int64_t extent(std::int64_t rows, std::int64_t cols, std::int64_t ld) {
  return rows == 0 || cols == 0 ? 0 : (cols - 1) * ld + rows;
}

float element(const Operand& x, std::int64_t i, std::int64_t j) {
  // (i, j) of op(X).
  return x.transposed ? load(x.data, x.type, j + i * x.ld) : load(x.data, x.type, i + j * x.ld);
}

cublasStatus_t gemm(const char* call, cublasHandle_t handle, cublasOperation_t transa,
                    cublasOperation_t transb, std::int64_t m, std::int64_t n, std::int64_t k,
                    const void* alpha, const void* A, cudaDataType Atype, std::int64_t lda,
                    long long strideA, const void* B, cudaDataType Btype, std::int64_t ldb,
                    long long strideB, const void* beta, void* C, cudaDataType Ctype,
                    std::int64_t ldc, long long strideC, std::int64_t batch_count,
                    cublasComputeType_t computeType) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!supported_types(Atype, Btype, Ctype, computeType)) return CUBLAS_STATUS_NOT_SUPPORTED;
  auto valid_op = [](cublasOperation_t op) {
    return op == CUBLAS_OP_N || op == CUBLAS_OP_T || op == CUBLAS_OP_C;
  };
  if (!valid_op(transa) || !valid_op(transb) || m < 0 || n < 0 || k < 0 || batch_count < 0 ||
      alpha == nullptr || beta == nullptr)
    return CUBLAS_STATUS_INVALID_VALUE;
  const Operand a = operand(A, Atype, static_cast<int>(lda), transa, m, k);
  const Operand b = operand(B, Btype, static_cast<int>(ldb), transb, k, n);
  if (lda < std::max<std::int64_t>(1, a.rows) || ldb < std::max<std::int64_t>(1, b.rows) ||
      ldc < std::max<std::int64_t>(1, m))
    return CUBLAS_STATUS_INVALID_VALUE;
  if (!runtime::stream_is_valid(handle->stream)) return CUBLAS_STATUS_EXECUTION_FAILED;
  if (m == 0 || n == 0 || batch_count == 0) return CUBLAS_STATUS_SUCCESS;

  // Pointer mode host (the default): alpha and beta are host floats.
  runtime::require_host_range(alpha, sizeof(float), fmt::format("{} alpha", call));
  runtime::require_host_range(beta, sizeof(float), fmt::format("{} beta", call));
  const float alpha_value = *static_cast<const float*>(alpha);
  const float beta_value = *static_cast<const float*>(beta);
  const bool reads_ab = k > 0 && alpha_value != 0.0f;

  for (std::int64_t batch = 0; batch < batch_count; ++batch) {
    Operand a_batch = a, b_batch = b;
    a_batch.data = static_cast<const char*>(A) + batch * strideA * element_bytes(Atype);
    b_batch.data = static_cast<const char*>(B) + batch * strideB * element_bytes(Btype);
    void* c_batch = static_cast<char*>(C) + batch * strideC * element_bytes(Ctype);
    if (reads_ab) {
      runtime::require_device_range(
          a_batch.data, extent(a.rows, a.cols, lda) * element_bytes(Atype),
          fmt::format("{} A (batch {}, {} x {} stored, lda {})", call, batch, a.rows, a.cols, lda));
      runtime::require_device_range(
          b_batch.data, extent(b.rows, b.cols, ldb) * element_bytes(Btype),
          fmt::format("{} B (batch {}, {} x {} stored, ldb {})", call, batch, b.rows, b.cols, ldb));
    }
    runtime::require_device_range(
        c_batch, extent(m, n, ldc) * element_bytes(Ctype),
        fmt::format("{} C (batch {}, {} x {}, ldc {})", call, batch, m, n, ldc));
    for (std::int64_t j = 0; j < n; ++j)
      for (std::int64_t i = 0; i < m; ++i) {
        float sum = 0.0f;
        if (reads_ab)
          for (std::int64_t p = 0; p < k; ++p)
            sum += element(a_batch, i, p) * element(b_batch, p, j);
        const std::int64_t index = i + j * ldc;
        const float previous = beta_value == 0.0f ? 0.0f : beta_value * load(c_batch, Ctype, index);
        store(c_batch, Ctype, index, alpha_value * sum + previous);
      }
  }
  return CUBLAS_STATUS_SUCCESS;
}

}  // namespace

cublasStatus_t cublasCreate_v2(cublasHandle_t* handle) {
  if (handle == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  if (runtime::driver_is_missing()) return CUBLAS_STATUS_NOT_INITIALIZED;
  *handle = new cublasContext;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy_v2(cublasHandle_t handle) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, cudaStream_t streamId) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->stream = streamId;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetStream_v2(cublasHandle_t handle, cudaStream_t* streamId) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (streamId == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  *streamId = handle->stream;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->math_mode = mode;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetMathMode(cublasHandle_t handle, cublasMath_t* mode) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (mode == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  *mode = handle->math_mode;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetWorkspace_v2(cublasHandle_t handle, void* workspace,
                                     size_t workspaceSizeInBytes) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  runtime::require_device_range(workspace, workspaceSizeInBytes, "cublasSetWorkspace workspace");
  return CUBLAS_STATUS_SUCCESS;
}

const char* cublasGetStatusName(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    default: return "CUBLAS_STATUS_UNKNOWN";
  }
}

const char* cublasGetStatusString(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "the operation completed successfully";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "the library was not initialized";
    case CUBLAS_STATUS_ALLOC_FAILED: return "the resource allocation failed";
    case CUBLAS_STATUS_INVALID_VALUE: return "an invalid numeric value was used as an argument";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "the GPU program failed to execute";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "the functionality requested is not supported";
    default: return "unknown error";
  }
}

cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa,
                            cublasOperation_t transb, int m, int n, int k, const void* alpha,
                            const void* A, cudaDataType Atype, int lda, const void* B,
                            cudaDataType Btype, int ldb, const void* beta, void* C,
                            cudaDataType Ctype, int ldc, cublasComputeType_t computeType,
                            cublasGemmAlgo_t) {
  return gemm("cublasGemmEx", handle, transa, transb, m, n, k, alpha, A, Atype, lda, 0, B, Btype,
              ldb, 0, beta, C, Ctype, ldc, 0, 1, computeType);
}

cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t handle, cublasOperation_t transa,
                                          cublasOperation_t transb, int m, int n, int k,
                                          const void* alpha, const void* A, cudaDataType Atype,
                                          int lda, long long int strideA, const void* B,
                                          cudaDataType Btype, int ldb, long long int strideB,
                                          const void* beta, void* C, cudaDataType Ctype, int ldc,
                                          long long int strideC, int batchCount,
                                          cublasComputeType_t computeType, cublasGemmAlgo_t) {
  return gemm("cublasGemmStridedBatchedEx", handle, transa, transb, m, n, k, alpha, A, Atype, lda,
              strideA, B, Btype, ldb, strideB, beta, C, Ctype, ldc, strideC, batchCount,
              computeType);
}
