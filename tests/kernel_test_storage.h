// Storage conversions for the emulated kernel tests: kernels keep float,
// __nv_bfloat16 or __half in plain host vectors (the emulation runs on host memory), the
// serial backend takes fp32 Tensors. A test rounds its random inputs to the
// storage type first (storage_values), so the serial backend sees exactly what
// the kernel sees, and compares the kernel's output widened back to fp32.
//
// Buffers carry guard elements before and after the `count` that a kernel may
// touch (GuardedBuffer), so a kernel that writes past its range, or relies on
// an aligned start, is caught.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>
#include <vector>

#include "seqtrain/tensor.h"

namespace seqtrain::testing {

inline float storage_to_float(float value) {
  return value;
}
inline float storage_to_float(__nv_bfloat16 value) {
  return __bfloat162float(value);
}
inline float storage_to_float(__half value) {
  return __half2float(value);
}

template <class Storage>
Storage storage_from_float(float value) {
  if constexpr (std::is_same_v<Storage, float>)
    return value;
  else if constexpr (std::is_same_v<Storage, __half>)
    return __float2half(value);
  else
    return __float2bfloat16(value);
}

// The tensor's values rounded to Storage.
template <class Storage>
std::vector<Storage> storage_values(const Tensor& tensor) {
  std::vector<Storage> out;
  out.reserve(static_cast<std::size_t>(tensor.numel()));
  for (float value : tensor.to_vector()) out.push_back(storage_from_float<Storage>(value));
  return out;
}

// count values from `values`, widened to fp32, as a tensor of `shape`.
template <class Storage>
Tensor storage_tensor(const Storage* values, const Shape& shape) {
  std::vector<float> floats(static_cast<std::size_t>(shape_numel(shape)));
  for (std::size_t i = 0; i < floats.size(); ++i) floats[i] = storage_to_float(values[i]);
  return Tensor::from_vector(floats, shape);
}

template <class Storage>
Tensor storage_tensor(const std::vector<Storage>& values, const Shape& shape) {
  return storage_tensor(values.data(), shape);
}

// The tensor rounded to Storage and back: what a kernel reading Storage sees.
template <class Storage>
Tensor rounded_to_storage(const Tensor& tensor) {
  return storage_tensor(storage_values<Storage>(tensor), tensor.shape());
}

// `count` elements starting `offset` elements after a 16-byte boundary (a
// vector's allocation is aligned to __STDCPP_DEFAULT_NEW_ALIGNMENT__ and the
// guard is a multiple of 16 bytes), with kGuard guard elements before and
// after, all set to `fill`. offset 1 gives a start that is not 16-byte aligned.
template <class T>
class GuardedBuffer {
  static_assert(__STDCPP_DEFAULT_NEW_ALIGNMENT__ >= 16);

 public:
  static constexpr std::int64_t kGuard = 16;

  GuardedBuffer(std::int64_t count, std::int64_t offset, T fill)
      : count_(count),
        offset_(kGuard + offset),
        storage_(static_cast<std::size_t>(count + kGuard + offset + kGuard), fill),
        fill_(fill) {}

  T* data() { return storage_.data() + offset_; }
  const T* data() const { return storage_.data() + offset_; }
  std::int64_t count() const { return count_; }

  void assign(const std::vector<T>& values) {
    for (std::size_t i = 0; i < values.size(); ++i) data()[i] = values[i];
  }

  // Whether every element outside [data(), data() + count) still holds fill.
  bool guards_intact() const {
    for (std::int64_t i = 0; i < static_cast<std::int64_t>(storage_.size()); ++i) {
      if (i >= offset_ && i < offset_ + count_) continue;
      if (!same_bits(storage_[static_cast<std::size_t>(i)], fill_)) return false;
    }
    return true;
  }

 private:
  static bool same_bits(const T& a, const T& b) {
    const auto* x = reinterpret_cast<const unsigned char*>(&a);
    const auto* y = reinterpret_cast<const unsigned char*>(&b);
    for (std::size_t k = 0; k < sizeof(T); ++k)
      if (x[k] != y[k]) return false;
    return true;
  }

  std::int64_t count_, offset_;
  std::vector<T> storage_;
  T fill_;
};

}  // namespace seqtrain::testing
