// The cuda backend's element-wise, activation, loss, reshape, embedding and
// dropout ops: one or two kernel launches each on the backend's stream
// (kernels/elementwise, bias_activation, mse, reshape, embedding, dropout).
// Ops that index memory with values from device memory (token ids, sequence
// lengths) pass a device flag (kernels/bad_index.h) that is read back after
// the launch, so a bad value is the DataError the CPU backends raise.
#include <fmt/format.h>

#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/cuda_errors.h"
#include "backends/cuda/storage_dispatch.h"
#include "kernels/bad_index.h"
#include "kernels/bias_activation.h"
#include "kernels/dropout.h"
#include "kernels/elementwise.h"
#include "kernels/embedding.h"
#include "kernels/mse.h"
#include "kernels/reshape.h"

namespace seqtrain {

using cuda::device_data;
using cuda::to_int32;
using cuda::with_storage;

namespace {

void expect_same_dtype(const Tensor& a, const Tensor& b, const char* op) {
  SEQTRAIN_CHECK(a.dtype() == b.dtype(), "{} of {} and {}", op, dtype_name(a.dtype()),
                 dtype_name(b.dtype()));
}

std::int64_t rows_of(const Tensor& x) {
  return x.numel() / std::max<std::int64_t>(1, x.dim(-1));
}

// The DataError of a sequence length outside [1, steps] (defer_index_check).
auto bad_sequence_length(std::int64_t steps) {
  return [steps](const kernels::BadIndex& bad) {
    throw DataError(
        fmt::format("sequence {} has length {}, outside [1, {}]", bad.position, bad.value, steps));
  };
}

}  // namespace


// ---- element-wise ------------------------------------------------------------------

void CudaBackend::add(const Tensor& a, const Tensor& b, Tensor& out) {
  expect_same_dtype(a, b, "add");
  with_storage(out, "add", [&]<class S>(S) {
    kernels::elementwise_add(
        {out.numel(), device_data<S>(a), device_data<S>(b), device_data<S>(out)}, stream_);
  });
}

void CudaBackend::mul(const Tensor& a, const Tensor& b, Tensor& out) {
  expect_same_dtype(a, b, "mul");
  with_storage(out, "mul", [&]<class S>(S) {
    kernels::elementwise_mul(
        {out.numel(), device_data<S>(a), device_data<S>(b), device_data<S>(out)}, stream_);
  });
}

void CudaBackend::scale(const Tensor& x, float factor, Tensor& out) {
  expect_same_dtype(x, out, "scale");
  with_storage(out, "scale", [&]<class S>(S) {
    kernels::elementwise_scale({out.numel(), device_data<S>(x), factor, device_data<S>(out)},
                               stream_);
  });
}

void CudaBackend::accumulate(const Tensor& x, Tensor& target) {
  expect_same_dtype(x, target, "accumulate");
  with_storage(target, "accumulate", [&]<class S>(S) {
    kernels::elementwise_accumulate({target.numel(), device_data<S>(x), device_data<S>(target)},
                                    stream_);
  });
}

void CudaBackend::bias_add(const Tensor& x, const Tensor& bias, Tensor& out) {
  expect_same_dtype(x, out, "bias_add");
  SEQTRAIN_CHECK(bias.dtype() == DType::f32, "bias stored as {}", dtype_name(bias.dtype()));
  const std::int64_t columns = bias.numel();
  with_storage(out, "bias_add", [&]<class S>(S) {
    kernels::bias_activation_forward(
        {Activation::identity, columns == 0 ? 0 : x.numel() / columns,
         to_int32(columns, "bias width"), device_data<S>(x), device_data<float>(bias),
         device_data<S>(out)},
        stream_);
  });
}

void CudaBackend::activation_forward(Activation activation, const Tensor& x, Tensor& y) {
  expect_same_dtype(x, y, "activation_forward");
  with_storage(y, "activation_forward", [&]<class S>(S) {
    kernels::activation_forward(
        {activation, y.numel(), device_data<S>(x), device_data<S>(y)}, stream_);
  });
}

void CudaBackend::activation_backward(Activation activation, const Tensor& x, const Tensor& y,
                                      const Tensor& dy, Tensor& dx) {
  expect_same_dtype(x, dx, "activation_backward");
  with_storage(dx, "activation_backward", [&]<class S>(S) {
    kernels::activation_backward({activation, dx.numel(), device_data<S>(x),
                                  device_data<S>(y), device_data<S>(dy), device_data<S>(dx)},
                                 stream_);
  });
}

// ---- mean squared error ---------------------------------------------------------

void CudaBackend::mse_forward(const Tensor& prediction, const Tensor& target, Tensor& loss) {
  expect_same_dtype(prediction, target, "mse_forward");
  std::shared_ptr<void> partial_sums = scratch(kernels::kMseForwardWorkspaceFloats * sizeof(float));
  with_storage(prediction, "mse_forward", [&]<class S>(S) {
    kernels::mse_forward({prediction.numel(), device_data<S>(prediction), device_data<S>(target),
                          static_cast<float*>(partial_sums.get()), device_data<float>(loss)},
                         stream_);
  });
}

void CudaBackend::mse_backward(const Tensor& prediction, const Tensor& target, const Tensor& dloss,
                               Tensor& dprediction) {
  expect_same_dtype(prediction, dprediction, "mse_backward");
  with_storage(prediction, "mse_backward", [&]<class S>(S) {
    kernels::mse_backward({prediction.numel(), device_data<S>(prediction), device_data<S>(target),
                           device_data<float>(dloss), device_data<S>(dprediction)},
                          stream_);
  });
}

// ---- dropout and embedding ------------------------------------------------------

void CudaBackend::dropout_forward(const Tensor& x, float probability, std::uint64_t seed,
                                  std::uint64_t stream, std::uint64_t step,
                                  std::uint64_t first_index, Tensor& y, Tensor& mask) {
  expect_same_dtype(x, y, "dropout_forward");
  with_storage(y, "dropout_forward", [&]<class S>(S) {
    kernels::dropout_forward({y.numel(), probability, seed, stream, step, device_data<S>(x),
                              device_data<S>(y), device_data<S>(mask), first_index},
                             stream_);
  });
}

void CudaBackend::embedding_forward(const Tensor& table, const Tensor& ids, Tensor& out) {
  expect_same_dtype(table, out, "embedding_forward");
  const std::int64_t vocabulary = table.dim(0);
  with_storage(out, "embedding_forward", [&]<class S>(S) {
    kernels::embedding_forward(
        {ids.numel(), to_int32(vocabulary, "vocabulary"), to_int32(table.dim(1), "embedding width"),
         device_data<S>(table), device_data<std::int32_t>(ids), device_data<S>(out),
         defer_index_check([vocabulary](const kernels::BadIndex& bad) {
           throw DataError(fmt::format("token id {} at position {} is outside the vocabulary of {}",
                                       bad.value, bad.position, vocabulary));
         })},
        stream_);
  });
}

void CudaBackend::embedding_backward(const Tensor& ids, const Tensor& dout, Tensor& dtable) {
  SEQTRAIN_CHECK(dtable.dtype() == DType::f32, "embedding gradient stored as {}",
                 dtype_name(dtable.dtype()));
  with_storage(dout, "embedding_backward", [&]<class S>(S) {
    kernels::embedding_backward(
        {ids.numel(), to_int32(dtable.dim(0), "vocabulary"), to_int32(dtable.dim(1), "width"),
         device_data<std::int32_t>(ids), device_data<S>(dout), device_data<float>(dtable)},
        stream_);
  });
}

// ---- reshapes ----------------------------------------------------------------------

void CudaBackend::transpose01(const Tensor& x, Tensor& out) {
  expect_same_dtype(x, out, "transpose01");
  if (x.dtype() == DType::i32) {
    kernels::transpose01({x.dim(0), x.dim(1), x.dim(2), device_data<std::int32_t>(x),
                          device_data<std::int32_t>(out)},
                         stream_);
    return;
  }
  with_storage(out, "transpose01", [&]<class S>(S) {
    kernels::transpose01({x.dim(0), x.dim(1), x.dim(2), device_data<S>(x), device_data<S>(out)},
                         stream_);
  });
}

void CudaBackend::concat_last(const Tensor& a, const Tensor& b, Tensor& out) {
  expect_same_dtype(a, out, "concat_last");
  expect_same_dtype(b, out, "concat_last");
  with_storage(out, "concat_last", [&]<class S>(S) {
    kernels::concat_last({rows_of(a), to_int32(a.dim(-1), "width"), to_int32(b.dim(-1), "width"),
                          device_data<S>(a), device_data<S>(b), device_data<S>(out)},
                         stream_);
  });
}

void CudaBackend::split_last(const Tensor& x, Tensor& a, Tensor& b) {
  expect_same_dtype(x, a, "split_last");
  expect_same_dtype(x, b, "split_last");
  with_storage(x, "split_last", [&]<class S>(S) {
    kernels::split_last({rows_of(x), to_int32(a.dim(-1), "width"), to_int32(b.dim(-1), "width"),
                         device_data<S>(x), device_data<S>(a), device_data<S>(b)},
                        stream_);
  });
}

void CudaBackend::sequence_last(const Tensor& x, const Tensor& lengths, bool reverse, Tensor& out) {
  expect_same_dtype(x, out, "sequence_last");
  const std::int64_t steps = x.dim(0);
  with_storage(out, "sequence_last", [&]<class S>(S) {
    kernels::sequence_last(
        {to_int32(steps, "steps"), to_int32(x.dim(1), "batch"), to_int32(x.dim(2), "width"),
         reverse, device_data<std::int32_t>(lengths), device_data<S>(x), device_data<S>(out),
         defer_index_check(bad_sequence_length(steps))},
        stream_);
  });
}

void CudaBackend::sequence_last_backward(const Tensor& dout, const Tensor& lengths, bool reverse,
                                         Tensor& dx) {
  expect_same_dtype(dout, dx, "sequence_last_backward");
  const std::int64_t steps = dx.dim(0);
  with_storage(dx, "sequence_last_backward", [&]<class S>(S) {
    kernels::sequence_last_backward(
        {to_int32(steps, "steps"), to_int32(dx.dim(1), "batch"), to_int32(dx.dim(2), "width"),
         reverse, device_data<std::int32_t>(lengths), device_data<S>(dout), device_data<S>(dx),
         defer_index_check(bad_sequence_length(steps))},
        stream_);
  });
}

}  // namespace seqtrain
