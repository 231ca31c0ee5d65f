#include "seqtrain/tensor.h"

#include <cstdlib>
#include <cstring>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace seqtrain {

std::size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::f32: return 4;
    case DType::bf16: return 2;
    case DType::i32: return 4;
  }
  return 0;
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::f32: return "f32";
    case DType::bf16: return "bf16";
    case DType::i32: return "i32";
  }
  return "?";
}

const char* device_name(Device device) { return device == Device::cpu ? "cpu" : "cuda"; }

std::int64_t shape_numel(const Shape& shape) {
  std::int64_t count = 1;
  for (std::int64_t extent : shape) count *= extent;
  return count;
}

std::string shape_string(const Shape& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

Tensor Tensor::empty(Shape shape, DType dtype) {
  for (std::int64_t extent : shape)
    SEQTRAIN_CHECK(extent >= 0, "negative extent in shape {}", shape_string(shape));
  Tensor tensor;
  tensor.shape_ = std::move(shape);
  tensor.dtype_ = dtype;
  std::size_t bytes = tensor.bytes();
  std::size_t rounded = (bytes + kTensorAlignment - 1) / kTensorAlignment * kTensorAlignment;
  void* data = std::aligned_alloc(kTensorAlignment, std::max<std::size_t>(rounded, kTensorAlignment));
  if (data == nullptr)
    throw Error(fmt::format("out of host memory allocating {} bytes for a tensor of shape {}",
                            bytes, shape_string(tensor.shape_)));
  tensor.storage_ = std::shared_ptr<void>(data, std::free);
  tensor.data_ = data;
  return tensor;
}

Tensor Tensor::zeros(Shape shape, DType dtype) {
  Tensor tensor = empty(std::move(shape), dtype);
  tensor.fill_zero();
  return tensor;
}

Tensor Tensor::view(void* data, Shape shape, DType dtype, Device device) {
  Tensor tensor;
  tensor.data_ = data;
  tensor.shape_ = std::move(shape);
  tensor.dtype_ = dtype;
  tensor.device_ = device;
  return tensor;
}

Tensor Tensor::adopt(std::shared_ptr<void> storage, Shape shape, DType dtype, Device device) {
  Tensor tensor = view(storage.get(), std::move(shape), dtype, device);
  tensor.storage_ = std::move(storage);
  return tensor;
}

Tensor Tensor::from_vector(const std::vector<float>& values, Shape shape) {
  SEQTRAIN_CHECK(static_cast<std::int64_t>(values.size()) == shape_numel(shape),
                 "{} values for shape {}", values.size(), shape_string(shape));
  Tensor tensor = empty(std::move(shape), DType::f32);
  std::memcpy(tensor.raw(), values.data(), tensor.bytes());
  return tensor;
}

Tensor Tensor::from_vector(const std::vector<std::int32_t>& values, Shape shape) {
  SEQTRAIN_CHECK(static_cast<std::int64_t>(values.size()) == shape_numel(shape),
                 "{} values for shape {}", values.size(), shape_string(shape));
  Tensor tensor = empty(std::move(shape), DType::i32);
  std::memcpy(tensor.raw(), values.data(), tensor.bytes());
  return tensor;
}

std::int64_t Tensor::dim(int axis) const {
  int index = axis < 0 ? axis + rank() : axis;
  SEQTRAIN_CHECK(index >= 0 && index < rank(), "axis {} of a tensor of shape {}", axis,
                 shape_string(shape_));
  return shape_[index];
}

Tensor Tensor::reshaped(Shape shape) const {
  SEQTRAIN_CHECK(shape_numel(shape) == numel(), "reshape {} to {}", shape_string(shape_),
                 shape_string(shape));
  Tensor tensor = *this;
  tensor.shape_ = std::move(shape);
  return tensor;
}

Tensor Tensor::clone() const {
  SEQTRAIN_CHECK(device_ == Device::cpu, "clone of a {} tensor", device_name(device_));
  Tensor copy = empty(shape_, dtype_);
  if (bytes() > 0) std::memcpy(copy.raw(), data_, bytes());
  return copy;
}

void Tensor::fill_zero() {
  SEQTRAIN_CHECK(device_ == Device::cpu, "fill_zero of a {} tensor", device_name(device_));
  if (bytes() > 0) std::memset(data_, 0, bytes());
}

std::vector<float> Tensor::to_vector() const {
  SEQTRAIN_CHECK(device_ == Device::cpu, "to_vector of a {} tensor", device_name(device_));
  std::vector<float> values(static_cast<std::size_t>(numel()));
  if (dtype_ == DType::f32) {
    if (bytes() > 0) std::memcpy(values.data(), data_, bytes());  // memcpy(nullptr, ..., 0) is UB
  } else if (dtype_ == DType::bf16) {
    const auto* bits = static_cast<const std::uint16_t*>(data_);
    for (std::size_t i = 0; i < values.size(); ++i) {
      std::uint32_t word = static_cast<std::uint32_t>(bits[i]) << 16;
      std::memcpy(&values[i], &word, 4);
    }
  } else {
    const auto* ints = static_cast<const std::int32_t*>(data_);
    for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(ints[i]);
  }
  return values;
}

void Tensor::check_dtype(DType expected) const {
  SEQTRAIN_CHECK(dtype_ == expected, "tensor of shape {} is {}, accessed as {}",
                 shape_string(shape_), dtype_name(dtype_), dtype_name(expected));
}

}  // namespace seqtrain
