// Small helpers the cuda backend's op files share: device pointers of a
// tensor's storage type, a call per storage type (float or __nv_bfloat16), and
// int32 narrowing for kernel arguments.
#pragma once

#include <cuda_bf16.h>

#include <cstdint>
#include <limits>

#include "seqtrain/tensor.h"

namespace seqtrain::cuda {

template <class T>
T* device_data(Tensor& tensor) {
  return static_cast<T*>(tensor.raw());
}
template <class T>
const T* device_data(const Tensor& tensor) {
  return static_cast<const T*>(tensor.raw());
}

// body(Storage{}) with Storage = float or __nv_bfloat16 for the tensor's dtype.
template <class Body>
void with_storage(const Tensor& tensor, const char* op, Body&& body) {
  SEQTRAIN_CHECK(tensor.device() == Device::cuda, "{}: a {} tensor of shape {} on the cuda backend",
                 op, device_name(tensor.device()), shape_string(tensor.shape()));
  switch (tensor.dtype()) {
    case DType::f32: body(float{}); return;
    case DType::bf16: body(__nv_bfloat16{}); return;
    case DType::i32: break;
  }
  SEQTRAIN_CHECK(false, "{} on {} storage", op, dtype_name(tensor.dtype()));
}

inline std::int32_t to_int32(std::int64_t value, const char* what) {
  SEQTRAIN_CHECK(value >= 0 && value <= std::numeric_limits<std::int32_t>::max(),
                 "{} = {} exceeds a kernel's int32 argument", what, value);
  return static_cast<std::int32_t>(value);
}

}  // namespace seqtrain::cuda
