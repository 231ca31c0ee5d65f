// The cuda backend: the host side of the GPU path. One device, one stream on
// which every copy, cuBLAS call and kernel of this backend runs in order, one
// cuBLAS handle bound to it, and a caching allocator (device_allocator.h) for
// tensors. GEMMs go through one helper (gemm.h); the element-wise, reduction
// and cell work goes to the hand-written kernels in kernels/ through their
// host entry points. The same object code runs on a GPU (linked with cudart,
// cuBLAS and nvcc's kernels) and in tests on the emulated device
// (kernels/emu/runtime, kernels/emu): only the link differs.
//
// Host <-> device traffic is copy_from_host / copy_to_host; a few ops also read
// small control data back (the sequence lengths of a recurrent layer, to check
// them and to skip steps no row reaches; a reduction's scalar result), which
// synchronises the stream there. Bad ids and lengths met by other kernels are
// raised at the next such point (defer_index_check).
#pragma once

#include <cublas_api.h>
#include <cuda_runtime_api.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backends/cuda/device_allocator.h"
#include "seqtrain/backend.h"

namespace seqtrain::kernels {
struct BadIndex;
struct OptimizerTensor;
}  // namespace seqtrain::kernels

namespace seqtrain {

class CudnnRnn;

class CudaBackend final : public Backend {
 public:
  // device_index: a CUDA device ordinal. recurrent_impl: whose code runs the
  // recurrent layers (cuDNN's is set up on first use). Throws DeviceError when
  // the device or cuBLAS cannot be set up.
  explicit CudaBackend(int device_index, RnnImpl recurrent_impl = RnnImpl::fused);
  ~CudaBackend() override;
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  std::string name() const override { return "cuda"; }
  Device device() const override { return Device::cuda; }
  RnnImpl recurrent_impl() const override { return recurrent_impl_; }
  int device_index() const { return device_index_; }
  // The stream every op of this backend runs on (collectives order themselves
  // after it with events: backends/cuda/nccl_communicator.h).
  cudaStream_t stream() const { return stream_; }
  // "NVIDIA H100 80GB HBM3 (device 0, sm_90, 79.1 GiB)"
  const std::string& description() const { return description_; }
  cuda::DeviceAllocatorStats allocator_stats() const { return allocator_->stats(); }
  // Waits until every operation issued so far has finished.
  void synchronize() override;

  Tensor allocate(const Shape& shape, DType dtype) override;
  void copy_from_host(const Tensor& host, Tensor& target) override;
  void copy_to_host(const Tensor& source, Tensor& host) override;
  void fill_zero(Tensor& x) override;
  // Both precisions: bf16 converts matmul's f32 operands to bf16 (a kernel)
  // and multiplies them with cuBLAS in fp32 (the recurrent layers' products
  // stay fp32).
  void set_gemm_precision(Precision precision) override { gemm_precision_ = precision; }

  // The op methods (seqtrain/backend_op_methods.inc), defined in cuda_*.cc.
#define SEQTRAIN_BACKEND_OP(result, name, parameters) result name parameters override;
#include "seqtrain/backend_op_methods.inc"
  double total_sum_of_squares(const std::vector<const Tensor*>& tensors) override;

 private:
  // Device scratch of at least bytes for the current op, back in the cache
  // when the returned pointer is dropped.
  std::shared_ptr<void> scratch(std::size_t bytes);
  // A recurrent layer's lengths, read back to the host and checked (1 <= len <= T):
  // a DataError names the first bad one. Returns the lengths; longest gets the maximum.
  std::vector<std::int32_t> host_lengths(const Tensor& lengths, std::int64_t steps,
                                         std::int64_t& longest);
  // cuDNN's recurrent layer for RnnImpl::cudnn (cudnn_rnn.h), created on first use.
  CudnnRnn& cudnn_rnn();
  // Device-to-device copy of source's bytes into target, or zeros when source is null.
  void copy_or_zero(const Tensor* source, Tensor& target);
  // Kernels that address memory with device data (token ids, targets,
  // lengths) record a bad value in a flag (kernels/bad_index.h) instead of the
  // host reading the data back first. Each such launch takes a fresh flag with
  // defer_index_check, together with the error a bad value there means; the
  // host reads the flags at the next point where it waits for the device
  // anyway (copy_to_host, synchronize, sum_of_squares) and raises the first
  // error in launch order. So no op waits for its own check, and the error
  // still names the op's bad value.
  using BadIndexError = std::function<void(const kernels::BadIndex&)>;
  unsigned long long* defer_index_check(BadIndexError raise);
  // Waits for the stream, reads the pending flags, clears them and raises the
  // first error (nothing when no check is pending).
  void raise_deferred_errors();
  // The device descriptor of one tensor for the multi-tensor optimizer and
  // norm kernels (cuda_optimizer.cc), copied into a slot the backend keeps;
  // blocks gets the launch's grid size.
  const kernels::OptimizerTensor* describe_one_tensor(float* parameter, const float* grad,
                                                      float* first_moment, float* second_moment,
                                                      std::int64_t numel, std::int64_t& blocks);

  int device_index_;
  RnnImpl recurrent_impl_;
  std::string description_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  std::shared_ptr<cuda::DeviceAllocator> allocator_;
  static constexpr std::size_t kIndexFlags = 64;  // pending checks before a forced read
  std::shared_ptr<void> index_flags_;              // kIndexFlags zeroed flags
  std::vector<BadIndexError> pending_index_checks_;  // one per flag in use, in order
  std::shared_ptr<void> optimizer_descriptor_;
  std::unique_ptr<CudnnRnn> cudnn_rnn_;
};

}  // namespace seqtrain
