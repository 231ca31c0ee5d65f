// The emulated CUDA device (kernels/emu/runtime) that the CUDA backend's host
// code runs on in tests: cuBLAS's column-major GEMM semantics against plain
// references built from explicitly transposed matrices (every transpose pair,
// leading dimensions wider than the matrix, odd sizes, strided batches with a
// shared operand, bf16 storage, beta 0 never reading C), memory copies and
// their checks, the sticky last error, and the no-driver mode.
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/emu/runtime/emulated_device.h"
#include "seqtrain/rng.h"
#include "test_support.h"

namespace seqtrain::testing {
namespace {

// A dense matrix of doubles, row-major, for references.
struct Dense {
  std::int64_t rows = 0, cols = 0;
  std::vector<double> values;
  double operator()(std::int64_t i, std::int64_t j) const { return values[i * cols + j]; }
};

// The rows x cols column-major matrix stored at `data` with leading dimension ld.
template <class T>
Dense read_column_major(const T* data, std::int64_t rows, std::int64_t cols, std::int64_t ld) {
  Dense dense{rows, cols, std::vector<double>(static_cast<std::size_t>(rows * cols))};
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j) {
      const T value = data[i + j * ld];
      if constexpr (std::is_same_v<T, float>)
        dense.values[i * cols + j] = value;
      else
        dense.values[i * cols + j] = __bfloat162float(value);
    }
  return dense;
}

Dense transposed(const Dense& x) {
  Dense t{x.cols, x.rows, std::vector<double>(x.values.size())};
  for (std::int64_t i = 0; i < x.rows; ++i)
    for (std::int64_t j = 0; j < x.cols; ++j) t.values[j * x.rows + i] = x(i, j);
  return t;
}

Dense product(const Dense& a, const Dense& b) {
  Dense c{a.rows, b.cols, std::vector<double>(static_cast<std::size_t>(a.rows * b.cols), 0.0)};
  for (std::int64_t i = 0; i < a.rows; ++i)
    for (std::int64_t j = 0; j < b.cols; ++j)
      for (std::int64_t p = 0; p < a.cols; ++p) c.values[i * c.cols + j] += a(i, p) * b(p, j);
  return c;
}

template <class T>
std::vector<T> random_values(std::size_t count, std::uint64_t seed) {
  Rng rng(seed, 2);
  std::vector<T> values(count);
  for (T& value : values) {
    const float x = 2.0f * rng.next_uniform() - 1.0f;
    if constexpr (std::is_same_v<T, float>)
      value = x;
    else
      value = __float2bfloat16(x);
  }
  return values;
}

// Device memory holding a host vector, freed at scope end.
template <class T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(const std::vector<T>& host) : count_(host.size()) {
    EXPECT_EQ(cudaMalloc(&pointer_, bytes()), cudaSuccess);
    EXPECT_EQ(cudaMemcpy(pointer_, host.data(), bytes(), cudaMemcpyHostToDevice), cudaSuccess);
  }
  ~DeviceBuffer() { static_cast<void>(cudaFree(pointer_)); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  T* get() { return static_cast<T*>(pointer_); }
  std::size_t bytes() const { return count_ * sizeof(T); }
  std::vector<T> to_host() const {
    std::vector<T> host(count_);
    EXPECT_EQ(cudaMemcpy(host.data(), pointer_, bytes(), cudaMemcpyDeviceToHost), cudaSuccess);
    return host;
  }

 private:
  void* pointer_ = nullptr;
  std::size_t count_;
};

class CublasHandle {
 public:
  CublasHandle() { EXPECT_EQ(cublasCreate(&handle_), CUBLAS_STATUS_SUCCESS); }
  ~CublasHandle() { static_cast<void>(cublasDestroy(handle_)); }
  CublasHandle(const CublasHandle&) = delete;
  CublasHandle& operator=(const CublasHandle&) = delete;
  cublasHandle_t get() const { return handle_; }

 private:
  cublasHandle_t handle_ = nullptr;
};

struct GemmCase {
  cublasOperation_t op_a, op_b;
  int m, n, k;
  int lda_padding, ldb_padding, ldc_padding;  // extra rows beyond the stored matrix
  float alpha, beta;
  int batch = 1;
  bool shared_b = false;  // strideB 0
};

std::string describe(const GemmCase& g) {
  return fmt::format("op_a {} op_b {} m {} n {} k {} padding {} {} {} alpha {} beta {} batch {}{}",
                     static_cast<int>(g.op_a), static_cast<int>(g.op_b), g.m, g.n, g.k,
                     g.lda_padding, g.ldb_padding, g.ldc_padding, g.alpha, g.beta, g.batch,
                     g.shared_b ? " shared B" : "");
}

// Runs the case through cublasGemmEx / cublasGemmStridedBatchedEx on input
// storage In and output storage Out, and checks every element of C (padding
// rows included: they must be untouched) against the reference.
template <class In, class Out>
void expect_gemm_matches_reference(const GemmCase& g, double tolerance) {
  SCOPED_TRACE(describe(g));
  const bool ta = g.op_a != CUBLAS_OP_N, tb = g.op_b != CUBLAS_OP_N;
  const std::int64_t a_rows = ta ? g.k : g.m, a_cols = ta ? g.m : g.k;
  const std::int64_t b_rows = tb ? g.n : g.k, b_cols = tb ? g.k : g.n;
  const std::int64_t lda = a_rows + g.lda_padding, ldb = b_rows + g.ldb_padding;
  const std::int64_t ldc = g.m + g.ldc_padding;
  const std::int64_t stride_a = lda * a_cols + 3, stride_b = g.shared_b ? 0 : ldb * b_cols + 5;
  const std::int64_t stride_c = ldc * g.n + 7;
  const std::size_t a_count = static_cast<std::size_t>(stride_a * g.batch);
  const std::size_t b_count =
      static_cast<std::size_t>(g.shared_b ? ldb * b_cols : stride_b * g.batch);
  const std::size_t c_count = static_cast<std::size_t>(stride_c * g.batch);
  const std::vector<In> a_host = random_values<In>(a_count, 41);
  const std::vector<In> b_host = random_values<In>(b_count, 42);
  std::vector<Out> c_host = random_values<Out>(c_count, 43);
  if (g.beta == 0.0f)  // beta 0 must not read C: NaN there must not leak through
    for (Out& value : c_host) value = static_cast<Out>(std::numeric_limits<float>::quiet_NaN());
  DeviceBuffer<In> a(a_host), b(b_host);
  DeviceBuffer<Out> c(c_host);

  constexpr cudaDataType in_type = std::is_same_v<In, float> ? CUDA_R_32F : CUDA_R_16BF;
  constexpr cudaDataType out_type = std::is_same_v<Out, float> ? CUDA_R_32F : CUDA_R_16BF;
  CublasHandle handle;
  if (g.batch == 1)
    ASSERT_EQ(cublasGemmEx(handle.get(), g.op_a, g.op_b, g.m, g.n, g.k, &g.alpha, a.get(), in_type,
                           static_cast<int>(lda), b.get(), in_type, static_cast<int>(ldb), &g.beta,
                           c.get(), out_type, static_cast<int>(ldc), CUBLAS_COMPUTE_32F,
                           CUBLAS_GEMM_DEFAULT),
              CUBLAS_STATUS_SUCCESS);
  else
    ASSERT_EQ(cublasGemmStridedBatchedEx(handle.get(), g.op_a, g.op_b, g.m, g.n, g.k, &g.alpha,
                                         a.get(), in_type, static_cast<int>(lda), stride_a, b.get(),
                                         in_type, static_cast<int>(ldb), stride_b, &g.beta, c.get(),
                                         out_type, static_cast<int>(ldc), stride_c, g.batch,
                                         CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
              CUBLAS_STATUS_SUCCESS);
  const std::vector<Out> result = c.to_host();

  auto as_double = [](Out value) {
    if constexpr (std::is_same_v<Out, float>)
      return static_cast<double>(value);
    else
      return static_cast<double>(__bfloat162float(value));
  };
  for (int batch = 0; batch < g.batch; ++batch) {
    const Dense stored_a = read_column_major(a_host.data() + batch * stride_a, a_rows, a_cols, lda);
    const Dense stored_b = read_column_major(b_host.data() + batch * stride_b, b_rows, b_cols, ldb);
    const Dense expected =
        product(ta ? transposed(stored_a) : stored_a, tb ? transposed(stored_b) : stored_b);
    for (std::int64_t j = 0; j < g.n; ++j)
      for (std::int64_t i = 0; i < ldc; ++i) {
        const std::size_t index = static_cast<std::size_t>(batch * stride_c + i + j * ldc);
        const double before = as_double(c_host[index]);
        const double actual = as_double(result[index]);
        if (i >= g.m) {  // padding rows: untouched
          EXPECT_TRUE(std::memcmp(&result[index], &c_host[index], sizeof(Out)) == 0)
              << "padding row " << i << " of column " << j << " (batch " << batch << ") changed";
          continue;
        }
        const double want = g.alpha * expected(i, j) + (g.beta == 0.0f ? 0.0 : g.beta * before);
        ASSERT_NEAR(actual, want, tolerance * (1.0 + std::abs(want)))
            << "C(" << i << ", " << j << ") of batch " << batch;
      }
  }
}

const cublasOperation_t kOps[] = {CUBLAS_OP_N, CUBLAS_OP_T};

TEST(EmulatedCublas, GemmExIsColumnMajorForEveryTransposeAndLeadingDimension) {
  for (cublasOperation_t op_a : kOps)
    for (cublasOperation_t op_b : kOps)
      for (float beta : {0.0f, 1.0f, -0.5f}) {
        expect_gemm_matches_reference<float, float>({op_a, op_b, 7, 5, 3, 0, 0, 0, 0.75f, beta},
                                                    1e-5);
        expect_gemm_matches_reference<float, float>({op_a, op_b, 13, 9, 17, 2, 3, 1, -1.25f, beta},
                                                    1e-5);
      }
}

TEST(EmulatedCublas, StridedBatchedGemmHonoursStridesAndASharedOperand) {
  for (cublasOperation_t op_a : kOps)
    for (cublasOperation_t op_b : kOps) {
      expect_gemm_matches_reference<float, float>(
          {op_a, op_b, 6, 11, 5, 1, 0, 2, 1.0f, 0.5f, 3, false}, 1e-5);
      expect_gemm_matches_reference<float, float>(
          {op_a, op_b, 6, 11, 5, 0, 2, 0, 0.5f, 0.0f, 4, true}, 1e-5);
    }
}

TEST(EmulatedCublas, Bf16InputsAccumulateInFp32IntoBf16OrFp32) {
  for (cublasOperation_t op_a : kOps)
    for (cublasOperation_t op_b : kOps) {
      // Inputs are exact bf16 values; only the output's rounding differs.
      expect_gemm_matches_reference<__nv_bfloat16, float>(
          {op_a, op_b, 9, 7, 33, 1, 2, 3, 1.0f, 0.5f, 2, false}, 1e-5);
      expect_gemm_matches_reference<__nv_bfloat16, __nv_bfloat16>(
          {op_a, op_b, 9, 7, 33, 0, 0, 0, 1.0f, 0.0f}, 1e-2);
    }
}

TEST(EmulatedCublas, KZeroScalesC) {
  // ldb must still be at least 1 (cuBLAS's rule), though B has no rows.
  expect_gemm_matches_reference<float, float>(
      {CUBLAS_OP_N, CUBLAS_OP_N, 4, 3, 0, 0, 1, 0, 1.0f, 0.5f}, 1e-6);
}

TEST(EmulatedCublas, RejectsWhatCublasRejects) {
  CublasHandle handle;
  std::vector<float> values(64, 1.0f);
  DeviceBuffer<float> a(values), b(values), c(values);
  const float one = 1.0f, zero = 0.0f;
  // lda smaller than the stored rows.
  EXPECT_EQ(cublasGemmEx(handle.get(), CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, &one, a.get(), CUDA_R_32F,
                         3, b.get(), CUDA_R_32F, 4, &zero, c.get(), CUDA_R_32F, 4,
                         CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
            CUBLAS_STATUS_INVALID_VALUE);
  // f32 inputs with a bf16 output: not a cuBLAS combination.
  EXPECT_EQ(cublasGemmEx(handle.get(), CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, &one, a.get(), CUDA_R_32F,
                         4, b.get(), CUDA_R_32F, 4, &zero, c.get(), CUDA_R_16BF, 4,
                         CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
            CUBLAS_STATUS_NOT_SUPPORTED);
}

TEST(EmulatedCublas, OperandsOutsideDeviceMemoryAreFaults) {
  CublasHandle handle;
  std::vector<float> values(16, 1.0f);
  DeviceBuffer<float> a(values), b(values), c(values);
  const float one = 1.0f, zero = 0.0f;
  // A 4 x 5 B does not fit in 16 floats: a stride or leading-dimension bug.
  EXPECT_THROW(
      static_cast<void>(cublasGemmEx(handle.get(), CUBLAS_OP_N, CUBLAS_OP_N, 4, 5, 4, &one, a.get(),
                                     CUDA_R_32F, 4, b.get(), CUDA_R_32F, 4, &zero, c.get(),
                                     CUDA_R_32F, 4, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT)),
      emu::DeviceFault);
  // Host memory where device memory belongs.
  EXPECT_THROW(static_cast<void>(cublasGemmEx(handle.get(), CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, &one,
                                              values.data(), CUDA_R_32F, 4, b.get(), CUDA_R_32F, 4,
                                              &zero, c.get(), CUDA_R_32F, 4, CUBLAS_COMPUTE_32F,
                                              CUBLAS_GEMM_DEFAULT)),
               emu::DeviceFault);
}

// ---- memory and copies ---------------------------------------------------------

TEST(EmulatedRuntime, CopiesAndMemsetMoveTheBytes) {
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
  std::vector<float> host = random_values<float>(37, 5), back(37, 0.0f);
  void *first = nullptr, *second = nullptr;
  ASSERT_EQ(cudaMalloc(&first, 37 * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&second, 37 * sizeof(float)), cudaSuccess);
  EXPECT_TRUE(emu::is_device_pointer(first));
  EXPECT_FALSE(emu::is_device_pointer(host.data()));
  ASSERT_EQ(cudaMemcpyAsync(first, host.data(), 37 * sizeof(float), cudaMemcpyHostToDevice, stream),
            cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(second, first, 37 * sizeof(float), cudaMemcpyDeviceToDevice, stream),
            cudaSuccess);
  ASSERT_EQ(cudaMemsetAsync(second, 0, 5 * sizeof(float), stream), cudaSuccess);
  ASSERT_EQ(
      cudaMemcpyAsync(back.data(), second, 37 * sizeof(float), cudaMemcpyDeviceToHost, stream),
      cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  for (int i = 0; i < 37; ++i) EXPECT_EQ(back[i], i < 5 ? 0.0f : host[i]) << i;

  // Rows of 3 floats out of rows of 5: a strided 2-D copy.
  std::vector<float> rows(4 * 3, 0.0f);
  ASSERT_EQ(cudaMemcpy2DAsync(rows.data(), 3 * sizeof(float), first, 5 * sizeof(float),
                              3 * sizeof(float), 4, cudaMemcpyDeviceToHost, stream),
            cudaSuccess);
  for (int r = 0; r < 4; ++r)
    for (int j = 0; j < 3; ++j) EXPECT_EQ(rows[r * 3 + j], host[r * 5 + j]);
  EXPECT_EQ(cudaFree(first), cudaSuccess);
  EXPECT_EQ(cudaFree(second), cudaSuccess);
  EXPECT_EQ(cudaStreamDestroy(stream), cudaSuccess);
}

TEST(EmulatedRuntime, FreshDeviceMemoryReadsAsNaN) {
  void* memory = nullptr;
  ASSERT_EQ(cudaMalloc(&memory, 8 * sizeof(float)), cudaSuccess);
  std::vector<float> back(8, 0.0f);
  ASSERT_EQ(cudaMemcpy(back.data(), memory, 8 * sizeof(float), cudaMemcpyDeviceToHost),
            cudaSuccess);
  for (float value : back) EXPECT_TRUE(std::isnan(value));
  EXPECT_EQ(cudaFree(memory), cudaSuccess);
}

TEST(EmulatedRuntime, CopiesPastAnAllocationOrFromTheWrongSideAreFaults) {
  void* memory = nullptr;
  ASSERT_EQ(cudaMalloc(&memory, 16), cudaSuccess);
  std::vector<char> host(64);
  EXPECT_THROW(static_cast<void>(cudaMemcpy(memory, host.data(), 17, cudaMemcpyHostToDevice)),
               emu::DeviceFault);
  EXPECT_THROW(static_cast<void>(cudaMemcpy(host.data(), memory, 16, cudaMemcpyHostToDevice)),
               emu::DeviceFault);
  EXPECT_THROW(static_cast<void>(cudaMemsetAsync(static_cast<char*>(memory) + 8, 0, 9, nullptr)),
               emu::DeviceFault);
  EXPECT_EQ(cudaFree(memory), cudaSuccess);
}

TEST(EmulatedRuntime, ErrorsAreStickyUntilRead) {
  int not_allocated = 0;
  EXPECT_EQ(cudaFree(&not_allocated), cudaErrorInvalidValue);
  EXPECT_EQ(cudaPeekAtLastError(), cudaErrorInvalidValue);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  EXPECT_STREQ(cudaGetErrorName(cudaErrorMemoryAllocation), "cudaErrorMemoryAllocation");
}

TEST(EmulatedRuntime, CapacityLimitsAllocationAndMemGetInfo) {
  const std::size_t before = emu::device_memory_in_use();
  emu::ScopedDeviceMemoryCapacity capacity(before + 1000);
  std::size_t free = 0, total = 0;
  ASSERT_EQ(cudaMemGetInfo(&free, &total), cudaSuccess);
  EXPECT_EQ(total, before + 1000);
  EXPECT_EQ(free, 1000u);
  void* memory = nullptr;
  ASSERT_EQ(cudaMalloc(&memory, 600), cudaSuccess);
  void* more = nullptr;
  EXPECT_EQ(cudaMalloc(&more, 600), cudaErrorMemoryAllocation);
  EXPECT_EQ(cudaGetLastError(), cudaErrorMemoryAllocation);
  EXPECT_EQ(cudaFree(memory), cudaSuccess);
  EXPECT_EQ(emu::device_memory_in_use(), before);
}

TEST(EmulatedRuntime, WithoutADriverThereIsNoDevice) {
  emu::set_driver_missing(true);
  int count = -1;
  EXPECT_EQ(cudaGetDeviceCount(&count), cudaErrorInsufficientDriver);
  EXPECT_EQ(count, 0);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInsufficientDriver);
  cublasHandle_t handle = nullptr;
  EXPECT_EQ(cublasCreate(&handle), CUBLAS_STATUS_NOT_INITIALIZED);
  emu::set_driver_missing(false);
  EXPECT_EQ(cudaGetDeviceCount(&count), cudaSuccess);
  EXPECT_EQ(count, 1);
}

}  // namespace
}  // namespace seqtrain::testing
