// What the NCCL communicator's tests share (kernels_nccl_*_test.cc on one
// rank, mpi_nccl_collectives_test.cc on two): a one-rank communicator, device
// buffers of known values and their values read back.
#pragma once

#include <cstring>
#include <span>
#include <vector>

#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/nccl_communicator.h"
#include "dist/communicator.h"
#include "seqtrain/backend.h"
#include "seqtrain/tensor.h"

namespace seqtrain::testing {

// The NCCL communicator of one process (a single-process host communicator)
// on CUDA device 0.
struct OneRank {
  CudaBackend backend{0};
  std::unique_ptr<Communicator> host = make_single_process_communicator();
  std::unique_ptr<Communicator> nccl;
  explicit OneRank(double timeout_seconds = 0.0)
      : nccl(make_nccl_communicator(backend, *host, timeout_seconds)) {}
};

// A device tensor holding values.
inline Tensor device_values(Backend& backend, const std::vector<float>& values) {
  Tensor device = backend.allocate({static_cast<std::int64_t>(values.size())}, DType::f32);
  backend.copy_from_host(Tensor::from_vector(values, {static_cast<std::int64_t>(values.size())}),
                         device);
  return device;
}

// A device tensor's values.
inline std::vector<float> host_values(Backend& backend, const Tensor& device) {
  Tensor host = Tensor::empty(device.shape(), DType::f32);
  backend.copy_to_host(device, host);
  const auto values = host.span<float>();
  return {values.begin(), values.end()};
}

// doubles in a device tensor (two f32 slots each: the tensors have no f64).
inline Tensor device_doubles(Backend& backend, const std::vector<double>& values) {
  const auto slots = static_cast<std::int64_t>(2 * values.size());
  Tensor host = Tensor::empty({slots}, DType::f32);
  std::memcpy(host.raw(), values.data(), values.size() * sizeof(double));
  Tensor device = backend.allocate({slots}, DType::f32);
  backend.copy_from_host(host, device);
  return device;
}

inline std::vector<double> host_doubles(Backend& backend, const Tensor& device) {
  Tensor host = Tensor::empty(device.shape(), DType::f32);
  backend.copy_to_host(device, host);
  std::vector<double> values(static_cast<std::size_t>(device.numel() / 2));
  std::memcpy(values.data(), host.raw(), values.size() * sizeof(double));
  return values;
}

inline std::span<double> double_span(Tensor& device) {
  return {static_cast<double*>(device.raw()), static_cast<std::size_t>(device.numel() / 2)};
}

}  // namespace seqtrain::testing
