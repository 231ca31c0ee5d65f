// The cuda backend's optimizer support: AdamW and SGD updates and the sum of
// squares for the global gradient norm, on the fused multi-tensor kernels
// (kernels/optimizer.cu, grad_norm.cu). The Backend interface hands the
// updates over one parameter at a time, so each update describes one tensor:
// its descriptor is copied to a device slot the backend keeps (stream order
// makes reusing it safe), then one launch does the work. The norm takes every
// gradient at once (total_sum_of_squares): one descriptor array, two launches
// and one wait for the whole model.
#include <fmt/format.h>

#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/cuda_errors.h"
#include "backends/cuda/storage_dispatch.h"
#include "kernels/grad_norm.h"
#include "kernels/optimizer.h"

namespace seqtrain {

using cuda::device_data;

namespace {

void expect_f32(const Tensor& tensor, const char* what) {
  SEQTRAIN_CHECK(tensor.dtype() == DType::f32 && tensor.device() == Device::cuda,
                 "{} is a {} {} tensor; optimizer state is f32 on the device", what,
                 device_name(tensor.device()), dtype_name(tensor.dtype()));
}

}  // namespace

const kernels::OptimizerTensor* CudaBackend::describe_one_tensor(
    float* parameter, const float* grad, float* first_moment, float* second_moment,
    std::int64_t numel, std::int64_t& blocks) {
  if (!optimizer_descriptor_)
    optimizer_descriptor_ = allocator_->allocate(sizeof(kernels::OptimizerTensor), stream_,
                                                 "optimizer descriptor");
  kernels::OptimizerTensor descriptor;
  descriptor.parameter = parameter;
  descriptor.grad = grad;
  descriptor.first_moment = first_moment;
  descriptor.second_moment = second_moment;
  descriptor.numel = numel;
  blocks = kernels::plan_optimizer_blocks(&descriptor, 1);
  // From pageable memory: returns once the descriptor is staged.
  CUDA_CHECK(cudaMemcpyAsync(optimizer_descriptor_.get(), &descriptor, sizeof(descriptor),
                             cudaMemcpyHostToDevice, stream_));
  return static_cast<const kernels::OptimizerTensor*>(optimizer_descriptor_.get());
}

double CudaBackend::sum_of_squares(const Tensor& x) {
  return total_sum_of_squares({&x});
}

double CudaBackend::total_sum_of_squares(const std::vector<const Tensor*>& tensors) {
  std::vector<kernels::OptimizerTensor> descriptors;
  descriptors.reserve(tensors.size());
  for (const Tensor* x : tensors) {
    expect_f32(*x, "sum_of_squares input");
    if (x->numel() == 0) continue;
    kernels::OptimizerTensor descriptor;
    descriptor.grad = device_data<float>(*x);
    descriptor.numel = x->numel();
    descriptors.push_back(descriptor);
  }
  if (descriptors.empty()) return 0.0;
  const auto count = cuda::to_int32(static_cast<std::int64_t>(descriptors.size()), "tensors");
  const std::int64_t blocks = kernels::plan_optimizer_blocks(descriptors.data(), count);
  const std::size_t bytes = descriptors.size() * sizeof(kernels::OptimizerTensor);
  std::shared_ptr<void> device_descriptors = scratch(bytes);
  CUDA_CHECK(cudaMemcpyAsync(device_descriptors.get(), descriptors.data(), bytes,
                             cudaMemcpyHostToDevice, stream_));
  std::shared_ptr<void> result = scratch(sizeof(double));
  std::shared_ptr<void> workspace = scratch(kernels::grad_norm_workspace_bytes(blocks));
  kernels::grad_sum_of_squares(
      {static_cast<const kernels::OptimizerTensor*>(device_descriptors.get()), count, blocks,
       static_cast<double*>(result.get()), workspace.get()},
      stream_);
  double sum = 0.0;
  CUDA_CHECK(cudaMemcpyAsync(&sum, result.get(), sizeof(sum), cudaMemcpyDeviceToHost, stream_));
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  raise_deferred_errors();
  return sum;
}

void CudaBackend::adamw_update(Tensor& parameter, const Tensor& grad, Tensor& m, Tensor& v,
                               const AdamWOptions& options) {
  expect_f32(parameter, "parameter");
  expect_f32(grad, "gradient");
  expect_f32(m, "AdamW first moment");
  expect_f32(v, "AdamW second moment");
  if (parameter.numel() == 0) return;
  kernels::AdamWArgs args;
  args.tensors = describe_one_tensor(device_data<float>(parameter), device_data<float>(grad),
                                     device_data<float>(m), device_data<float>(v),
                                     parameter.numel(), args.blocks);
  args.tensor_count = 1;
  args.learning_rate = options.learning_rate;
  args.beta1 = options.beta1;
  args.beta2 = options.beta2;
  args.epsilon = options.epsilon;
  args.weight_decay = options.weight_decay;
  args.step = options.step;
  kernels::adamw_update(args, stream_);
}

void CudaBackend::sgd_update(Tensor& parameter, const Tensor& grad, Tensor& velocity,
                             float learning_rate, float momentum, float weight_decay) {
  expect_f32(parameter, "parameter");
  expect_f32(grad, "gradient");
  expect_f32(velocity, "SGD velocity");
  if (parameter.numel() == 0) return;
  kernels::SgdArgs args;
  args.tensors =
      describe_one_tensor(device_data<float>(parameter), device_data<float>(grad),
                          device_data<float>(velocity), nullptr, parameter.numel(), args.blocks);
  args.tensor_count = 1;
  args.learning_rate = learning_rate;
  args.momentum = momentum;
  args.weight_decay = weight_decay;
  kernels::sgd_update(args, stream_);
}

}  // namespace seqtrain
