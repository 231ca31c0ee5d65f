#include "seqtrain/parameters.h"

#include "seqtrain/backend.h"
#include "seqtrain/rng.h"

namespace seqtrain {

Parameter& ParameterStore::add(const std::string& name, const Shape& shape, bool weight_decay) {
  SEQTRAIN_CHECK(!by_name_.contains(name), "parameter '{}' added twice", name);
  auto parameter = std::make_unique<Parameter>();
  parameter->name = name;
  parameter->value = backend_->allocate(shape, DType::f32);
  parameter->grad = backend_->allocate(shape, DType::f32);
  parameter->weight_decay = weight_decay;
  backend_->fill_zero(parameter->value);
  backend_->fill_zero(parameter->grad);
  by_name_[name] = parameter.get();
  parameters_.push_back(std::move(parameter));
  return *parameters_.back();
}

Parameter* ParameterStore::find(const std::string& name) {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

Parameter& ParameterStore::get(const std::string& name) {
  Parameter* parameter = find(name);
  SEQTRAIN_CHECK(parameter != nullptr, "no parameter '{}'", name);
  return *parameter;
}

std::int64_t ParameterStore::total_elements() const {
  std::int64_t total = 0;
  for (const auto& parameter : parameters_) total += parameter->value.numel();
  return total;
}

void ParameterStore::zero_grads() {
  for (auto& parameter : parameters_) backend_->fill_zero(parameter->grad);
}

void ParameterStore::set_value(Parameter& parameter, const Tensor& host) {
  SEQTRAIN_CHECK(host.shape() == parameter.value.shape(), "parameter '{}' is {}, given {}",
                 parameter.name, shape_string(parameter.value.shape()),
                 shape_string(host.shape()));
  backend_->copy_from_host(host, parameter.value);
}

Tensor ParameterStore::value_to_host(const Parameter& parameter) const {
  Tensor host = Tensor::empty(parameter.value.shape(), DType::f32);
  backend_->copy_to_host(parameter.value, host);
  return host;
}

Tensor ParameterStore::grad_to_host(const Parameter& parameter) const {
  Tensor host = Tensor::empty(parameter.grad.shape(), DType::f32);
  backend_->copy_to_host(parameter.grad, host);
  return host;
}

Tensor uniform_tensor(const Shape& shape, float bound, Rng& rng) {
  Tensor tensor = Tensor::empty(shape, DType::f32);
  for (float& value : tensor.span<float>()) value = (2.0f * rng.next_uniform() - 1.0f) * bound;
  return tensor;
}

Tensor normal_tensor(const Shape& shape, float stddev, Rng& rng) {
  Tensor tensor = Tensor::empty(shape, DType::f32);
  for (float& value : tensor.span<float>()) value = rng.next_normal() * stddev;
  return tensor;
}

}  // namespace seqtrain
