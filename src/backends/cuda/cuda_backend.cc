// The cuda backend's device, stream, memory, copies, GEMMs and bias gradient.
// The element-wise, loss, reshape, embedding and dropout ops are in
// cuda_ops.cc, the recurrent layer in cuda_rnn.cc.
#include "backends/cuda/cuda_backend.h"

#include <cublas_v2.h>
#include <fmt/format.h>

#include "backends/cuda/cuda_errors.h"
#include "backends/cuda/cudnn_rnn.h"
#include "backends/cuda/gemm.h"
#include "kernels/bad_index.h"
#include "kernels/bias_grad.h"
#include "kernels/elementwise.h"

namespace seqtrain {
namespace {

void expect_device(const Tensor& tensor, const char* what) {
  SEQTRAIN_CHECK(tensor.device() == Device::cuda,
                 "{} of shape {} is a {} tensor on the cuda backend", what,
                 shape_string(tensor.shape()), device_name(tensor.device()));
}

std::string gib(std::size_t bytes) {
  return fmt::format("{:.1f} GiB", static_cast<double>(bytes) / (1u << 30));
}

}  // namespace

CudaBackend::CudaBackend(int device_index, RnnImpl recurrent_impl)
    : device_index_(device_index), recurrent_impl_(recurrent_impl) {
  int count = 0;
  CUDA_CHECK(cudaGetDeviceCount(&count));
  if (device_index < 0 || device_index >= count)
    throw DeviceError(
        fmt::format("CUDA device {} does not exist: this machine has {} device{} "
                    "(ordinals 0 to {})",
                    device_index, count, count == 1 ? "" : "s", count - 1));
  CUDA_CHECK(cudaSetDevice(device_index));
  cudaDeviceProp properties{};
  CUDA_CHECK(cudaGetDeviceProperties(&properties, device_index));
  description_ = fmt::format("{} (device {}, sm_{}{}, {})", properties.name, device_index,
                             properties.major, properties.minor, gib(properties.totalGlobalMem));
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  try {
    CUBLAS_CHECK(cublasCreate(&cublas_));
    CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
  } catch (...) {
    if (cublas_ != nullptr) static_cast<void>(cublasDestroy(cublas_));
    static_cast<void>(cudaStreamDestroy(stream_));
    throw;
  }
  allocator_ = cuda::DeviceAllocator::create(device_index);
  index_flags_ = allocator_->allocate(kIndexFlags * sizeof(unsigned long long), stream_,
                                     "index-check flag array");
  CUDA_CHECK(cudaMemsetAsync(index_flags_.get(), 0, kIndexFlags * sizeof(unsigned long long),
                             stream_));
  pending_index_checks_.reserve(kIndexFlags);
}

CudaBackend::~CudaBackend() {
  // Tensors may outlive the backend: the allocator stays alive with them.
  static_cast<void>(cudaStreamSynchronize(stream_));
  cudnn_rnn_.reset();
  static_cast<void>(cublasDestroy(cublas_));
  static_cast<void>(cudaStreamDestroy(stream_));
  static_cast<void>(cudaGetLastError());
}

void CudaBackend::synchronize() {
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  raise_deferred_errors();
}

unsigned long long* CudaBackend::defer_index_check(BadIndexError raise) {
  if (pending_index_checks_.size() == kIndexFlags) raise_deferred_errors();
  pending_index_checks_.push_back(std::move(raise));
  return static_cast<unsigned long long*>(index_flags_.get()) + pending_index_checks_.size() - 1;
}

void CudaBackend::raise_deferred_errors() {
  if (pending_index_checks_.empty()) return;
  const std::vector<BadIndexError> pending = std::move(pending_index_checks_);
  pending_index_checks_.clear();
  std::vector<unsigned long long> flags(pending.size());
  const std::size_t bytes = flags.size() * sizeof(unsigned long long);
  CUDA_CHECK(cudaMemcpyAsync(flags.data(), index_flags_.get(), bytes, cudaMemcpyDeviceToHost,
                             stream_));
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  for (std::size_t i = 0; i < flags.size(); ++i) {
    const kernels::BadIndex bad = kernels::decode_bad_index(flags[i]);
    if (!bad.found) continue;
    // Clear the flags before raising, so the backend stays usable.
    CUDA_CHECK(cudaMemsetAsync(index_flags_.get(), 0, bytes, stream_));
    pending[i](bad);
  }
}

std::shared_ptr<void> CudaBackend::scratch(std::size_t bytes) {
  return allocator_->allocate(bytes, stream_, "scratch");
}

Tensor CudaBackend::allocate(const Shape& shape, DType dtype) {
  for (std::int64_t extent : shape)
    SEQTRAIN_CHECK(extent >= 0, "negative extent in shape {}", shape_string(shape));
  const std::size_t bytes = static_cast<std::size_t>(shape_numel(shape)) * dtype_size(dtype);
  return Tensor::adopt(allocator_->allocate(bytes, stream_, "tensor"), shape, dtype, Device::cuda);
}

void CudaBackend::copy_from_host(const Tensor& host, Tensor& target) {
  SEQTRAIN_CHECK(host.device() == Device::cpu && host.bytes() == target.bytes(),
                 "copy of a {} tensor of {} bytes to the device into {} bytes",
                 device_name(host.device()), host.bytes(), target.bytes());
  expect_device(target, "copy target");
  if (host.bytes() == 0) return;
  // From pageable memory the call returns once the source has been staged, so
  // the caller may free or reuse it right away.
  CUDA_CHECK(
      cudaMemcpyAsync(target.raw(), host.raw(), host.bytes(), cudaMemcpyHostToDevice, stream_));
}

void CudaBackend::copy_to_host(const Tensor& source, Tensor& host) {
  SEQTRAIN_CHECK(host.device() == Device::cpu && host.bytes() == source.bytes(),
                 "copy of {} device bytes into a {} tensor of {} bytes", source.bytes(),
                 device_name(host.device()), host.bytes());
  expect_device(source, "copy source");
  if (source.bytes() == 0) return;
  CUDA_CHECK(
      cudaMemcpyAsync(host.raw(), source.raw(), source.bytes(), cudaMemcpyDeviceToHost, stream_));
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  raise_deferred_errors();
}

void CudaBackend::fill_zero(Tensor& x) {
  expect_device(x, "fill_zero target");
  if (x.bytes() > 0) CUDA_CHECK(cudaMemsetAsync(x.raw(), 0, x.bytes(), stream_));
}

void CudaBackend::copy_or_zero(const Tensor* source, Tensor& target) {
  expect_device(target, "copy target");
  if (target.bytes() == 0) return;
  if (source == nullptr) {
    CUDA_CHECK(cudaMemsetAsync(target.raw(), 0, target.bytes(), stream_));
    return;
  }
  expect_device(*source, "copy source");
  SEQTRAIN_CHECK(source->bytes() == target.bytes(), "device copy of {} bytes into {}",
                 source->bytes(), target.bytes());
  if (source->raw() != target.raw())
    CUDA_CHECK(cudaMemcpyAsync(target.raw(), source->raw(), source->bytes(),
                               cudaMemcpyDeviceToDevice, stream_));
}

// ---- GEMM and bias ---------------------------------------------------------------

void CudaBackend::matmul(const Tensor& a, const Tensor& b, Tensor& c, bool transpose_a,
                         bool transpose_b, float alpha, float beta) {
  expect_device(a, "matmul a");
  expect_device(b, "matmul b");
  expect_device(c, "matmul c");
  SEQTRAIN_CHECK(a.dtype() == b.dtype(), "matmul of {} and {}", dtype_name(a.dtype()),
                 dtype_name(b.dtype()));
  // Batched over a's leading axis; b is shared when it has rank 2.
  const std::int64_t batch = a.rank() == 3 ? a.dim(0) : 1;
  const std::int64_t a_rows = a.dim(-2), a_cols = a.dim(-1);
  const std::int64_t b_rows = b.dim(-2), b_cols = b.dim(-1);
  cuda::GemmArgs g;
  g.transpose_a = transpose_a;
  g.transpose_b = transpose_b;
  g.m = transpose_a ? a_cols : a_rows;
  g.k = transpose_a ? a_rows : a_cols;
  g.n = transpose_b ? b_rows : b_cols;
  g.a = a.raw();
  g.lda = a_cols;
  g.b = b.raw();
  g.ldb = b_cols;
  g.c = c.raw();
  g.ldc = g.n;
  g.alpha = alpha;
  g.beta = beta;
  g.input_dtype = a.dtype();
  g.output_dtype = c.dtype();
  SEQTRAIN_CHECK(c.numel() == batch * g.m * g.n, "matmul output {} for {} x {}",
                 shape_string(c.shape()), shape_string(a.shape()), shape_string(b.shape()));
  // bf16 precision: f32 operands rounded into bf16 copies of the same layout
  // (they live until this call's GEMM has been issued; the allocator reuses
  // their blocks in stream order).
  Tensor a_bf16, b_bf16;
  if (gemm_precision_ == Precision::bf16 && a.dtype() == DType::f32) {
    a_bf16 = allocate(a.shape(), DType::bf16);
    b_bf16 = allocate(b.shape(), DType::bf16);
    kernels::elementwise_to_bf16(
        {a.numel(), a.data<float>(), static_cast<__nv_bfloat16*>(a_bf16.raw())}, stream_);
    kernels::elementwise_to_bf16(
        {b.numel(), b.data<float>(), static_cast<__nv_bfloat16*>(b_bf16.raw())}, stream_);
    g.a = a_bf16.raw();
    g.b = b_bf16.raw();
    g.input_dtype = DType::bf16;
  }
  if (batch > 1 && b.rank() == 2 && !transpose_a) {
    // A shared B and row-major A: the batch is one tall GEMM.
    g.m *= batch;
  } else if (batch > 1) {
    g.batch = batch;
    g.stride_a = a_rows * a_cols;
    g.stride_b = b.rank() == 3 ? b_rows * b_cols : 0;
    g.stride_c = g.m * g.n;
  }
  cuda::gemm(cublas_, g);
}

void CudaBackend::bias_grad(const Tensor& dy, Tensor& bias_grad) {
  expect_device(dy, "bias_grad dy");
  expect_device(bias_grad, "bias_grad output");
  SEQTRAIN_CHECK(bias_grad.dtype() == DType::f32, "bias gradient stored as {}",
                 dtype_name(bias_grad.dtype()));
  const std::int64_t columns = bias_grad.numel();
  if (columns == 0) return;
  const std::int64_t rows = dy.numel() / columns;
  if (rows == 0) {
    fill_zero(bias_grad);
    return;
  }
  if (dy.dtype() == DType::bf16) {
    kernels::bias_grad(
        kernels::BiasGradArgs<__nv_bfloat16>{rows, static_cast<std::int32_t>(columns),
                                             static_cast<const __nv_bfloat16*>(dy.raw()),
                                             bias_grad.data<float>()},
        stream_);
    return;
  }
  kernels::bias_grad(kernels::BiasGradArgs<float>{rows, static_cast<std::int32_t>(columns),
                                                  dy.data<float>(), bias_grad.data<float>()},
                     stream_);
}

}  // namespace seqtrain
