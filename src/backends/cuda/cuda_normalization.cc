// The cuda backend's softmax, softmax cross-entropy and layer normalisation:
// one kernel launch each way (kernels/softmax.cu, cross_entropy.cu,
// layernorm.cu), with scratch from the caching allocator where a kernel
// reduces in two stages. A target outside the classes (and not the ignore
// index) is found by the kernel's flag (kernels/bad_index.h) and raised as
// the DataError the CPU backends raise.
#include <fmt/format.h>

#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/storage_dispatch.h"
#include "kernels/bad_index.h"
#include "kernels/cross_entropy.h"
#include "kernels/layernorm.h"
#include "kernels/softmax.h"

namespace seqtrain {

using cuda::device_data;
using cuda::to_int32;
using cuda::with_storage;

namespace {

std::int64_t rows_of(const Tensor& x) {
  return x.numel() / std::max<std::int64_t>(1, x.dim(-1));
}

void expect_f32(const Tensor& tensor, const char* what) {
  SEQTRAIN_CHECK(tensor.dtype() == DType::f32, "{} stored as {}", what, dtype_name(tensor.dtype()));
}

}  // namespace

void CudaBackend::softmax_forward(const Tensor& x, Tensor& y) {
  with_storage(y, "softmax_forward", [&]<class S>(S) {
    kernels::softmax_forward(
        {rows_of(x), to_int32(x.dim(-1), "softmax width"), device_data<S>(x), device_data<S>(y)},
        stream_);
  });
}

void CudaBackend::softmax_backward(const Tensor& y, const Tensor& dy, Tensor& dx) {
  with_storage(dx, "softmax_backward", [&]<class S>(S) {
    kernels::softmax_backward({rows_of(y), to_int32(y.dim(-1), "softmax width"), device_data<S>(y),
                               device_data<S>(dy), device_data<S>(dx)},
                              stream_);
  });
}

void CudaBackend::cross_entropy_forward(const Tensor& logits, const Tensor& targets,
                                        std::int64_t ignore_index, Tensor& loss,
                                        Tensor& log_sum_exp) {
  expect_f32(loss, "cross-entropy loss");
  expect_f32(log_sum_exp, "log-sum-exp");
  const std::int64_t rows = logits.dim(0), classes = logits.dim(1);
  std::shared_ptr<void> workspace = scratch(kernels::cross_entropy_forward_workspace_bytes(rows));
  with_storage(logits, "cross_entropy_forward", [&]<class S>(S) {
    kernels::cross_entropy_forward(
        {rows, to_int32(classes, "classes"), ignore_index, device_data<S>(logits),
         device_data<std::int32_t>(targets), device_data<float>(loss),
         device_data<float>(log_sum_exp),
         defer_index_check([classes](const kernels::BadIndex& bad) {
           throw DataError(fmt::format("target {} in row {} is outside the {} classes", bad.value,
                                       bad.position, classes));
         }),
         workspace.get()},
        stream_);
  });
}

void CudaBackend::cross_entropy_backward(const Tensor& logits, const Tensor& targets,
                                         const Tensor& log_sum_exp, const Tensor& dloss,
                                         std::int64_t ignore_index, Tensor& dlogits) {
  std::shared_ptr<void> workspace = scratch(kernels::cross_entropy_backward_workspace_bytes());
  with_storage(dlogits, "cross_entropy_backward", [&]<class S>(S) {
    kernels::cross_entropy_backward(
        {logits.dim(0), to_int32(logits.dim(1), "classes"), ignore_index, device_data<S>(logits),
         device_data<std::int32_t>(targets), device_data<float>(log_sum_exp),
         device_data<float>(dloss), device_data<S>(dlogits), workspace.get()},
        stream_);
  });
}

void CudaBackend::layernorm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                    float epsilon, Tensor& y, Tensor& mean, Tensor& rstd) {
  expect_f32(gamma, "layernorm gamma");
  expect_f32(beta, "layernorm beta");
  with_storage(y, "layernorm_forward", [&]<class S>(S) {
    kernels::layernorm_forward(
        {rows_of(x), to_int32(x.dim(-1), "layernorm width"), epsilon, device_data<S>(x),
         device_data<float>(gamma), device_data<float>(beta), device_data<S>(y),
         device_data<float>(mean), device_data<float>(rstd)},
        stream_);
  });
}

void CudaBackend::layernorm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean,
                                     const Tensor& rstd, const Tensor& dy, Tensor& dx,
                                     Tensor& dgamma, Tensor& dbeta) {
  expect_f32(dgamma, "layernorm dgamma");
  expect_f32(dbeta, "layernorm dbeta");
  const std::int64_t rows = rows_of(x);
  const std::int32_t columns = to_int32(x.dim(-1), "layernorm width");
  std::shared_ptr<void> workspace =
      scratch(kernels::layernorm_backward_workspace_bytes(rows, columns));
  with_storage(dx, "layernorm_backward", [&]<class S>(S) {
    kernels::layernorm_backward(
        {rows, columns, device_data<S>(x), device_data<float>(gamma), device_data<float>(mean),
         device_data<float>(rstd), device_data<S>(dy), device_data<S>(dx),
         device_data<float>(dgamma), device_data<float>(dbeta), workspace.get()},
        stream_);
  });
}

}  // namespace seqtrain
