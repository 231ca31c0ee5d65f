// Tensor: a dense, contiguous, row-major array with a shape, a dtype and a
// device. Storage is reference counted and 64-byte aligned (one cache line, one
// AVX-512 register), so views made by reshape share it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "seqtrain/error.h"

namespace seqtrain {

enum class DType : std::uint8_t { f32, bf16, i32 };
enum class Device : std::uint8_t { cpu, cuda };

std::size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);
const char* device_name(Device device);

using Shape = std::vector<std::int64_t>;

std::int64_t shape_numel(const Shape& shape);
std::string shape_string(const Shape& shape);  // "[2, 3, 4]"

template <class T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() { return DType::f32; }
template <>
constexpr DType dtype_of<std::int32_t>() { return DType::i32; }

inline constexpr std::size_t kTensorAlignment = 64;

class Tensor {
 public:
  Tensor() = default;

  // Fresh host storage; contents uninitialised (empty) or zero (zeros).
  static Tensor empty(Shape shape, DType dtype = DType::f32);
  static Tensor zeros(Shape shape, DType dtype = DType::f32);
  // A non-owning view of memory that outlives the tensor (an arena slot).
  static Tensor view(void* data, Shape shape, DType dtype, Device device = Device::cpu);
  // A tensor that owns storage a backend allocated (device memory from its
  // caching allocator): the last copy of the tensor runs storage's deleter.
  static Tensor adopt(std::shared_ptr<void> storage, Shape shape, DType dtype, Device device);
  static Tensor from_vector(const std::vector<float>& values, Shape shape);
  static Tensor from_vector(const std::vector<std::int32_t>& values, Shape shape);

  bool defined() const { return data_ != nullptr || shape_numel(shape_) == 0; }
  const Shape& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  std::int64_t dim(int axis) const;  // negative axes count from the end
  std::int64_t numel() const { return shape_numel(shape_); }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  std::size_t bytes() const { return static_cast<std::size_t>(numel()) * dtype_size(dtype_); }

  void* raw() { return data_; }
  const void* raw() const { return data_; }
  template <class T>
  T* data() {
    check_dtype(dtype_of<T>());
    return static_cast<T*>(data_);
  }
  template <class T>
  const T* data() const {
    check_dtype(dtype_of<T>());
    return static_cast<const T*>(data_);
  }
  template <class T>
  std::span<T> span() {
    return {data<T>(), static_cast<std::size_t>(numel())};
  }
  template <class T>
  std::span<const T> span() const {
    return {data<T>(), static_cast<std::size_t>(numel())};
  }

  // Same storage, new shape with the same element count.
  Tensor reshaped(Shape shape) const;
  // A deep copy with its own storage.
  Tensor clone() const;
  void fill_zero();
  std::vector<float> to_vector() const;  // f32 or bf16 contents as floats

 private:
  void check_dtype(DType expected) const;

  std::shared_ptr<void> storage_;
  void* data_ = nullptr;
  Shape shape_;
  DType dtype_ = DType::f32;
  Device device_ = Device::cpu;
};

}  // namespace seqtrain
