#include "train/optimizer.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "seqtrain/backend.h"

namespace seqtrain {

void Optimizer::step(float learning_rate) {
  const auto& all = parameters_->all();
  SEQTRAIN_CHECK(all.size() == parameter_count_,
                 "the parameter store has {} parameters, the optimizer was made for {}", all.size(),
                 parameter_count_);
  ++step_count_;
  for (std::size_t index = 0; index < all.size(); ++index)
    update(*all[index], index, learning_rate);
}

std::size_t Optimizer::add_slot(const Parameter& parameter, const std::string& slot_name) {
  Backend& backend = parameters_->backend();
  StateSlot slot;
  slot.name = parameter.name + "." + slot_name;
  slot.tensor = backend.allocate(parameter.value.shape(), DType::f32);
  backend.fill_zero(slot.tensor);
  slots_.push_back(std::move(slot));
  return slots_.size() - 1;
}

std::map<std::string, Shape> Optimizer::state_shapes() const {
  std::map<std::string, Shape> shapes;
  for (const StateSlot& slot : slots_) shapes[slot.name] = slot.tensor.shape();
  return shapes;
}

std::map<std::string, Tensor> Optimizer::state_to_host() const {
  std::map<std::string, Tensor> host_state;
  for (const StateSlot& slot : slots_) {
    Tensor host = Tensor::empty(slot.tensor.shape(), DType::f32);
    parameters_->backend().copy_to_host(slot.tensor, host);
    host_state.emplace(slot.name, std::move(host));
  }
  return host_state;
}

void Optimizer::load_state(const std::map<std::string, Tensor>& host_state,
                           std::int64_t step_count) {
  if (step_count < 0)
    throw CheckpointError(
        fmt::format("{} optimizer state: negative step count {}", name(), step_count));
  // Check everything before changing anything.
  std::set<std::string> expected;
  for (const StateSlot& slot : slots_) {
    expected.insert(slot.name);
    auto it = host_state.find(slot.name);
    if (it == host_state.end())
      throw CheckpointError(
          fmt::format("{} optimizer state: missing tensor '{}'", name(), slot.name));
    const Tensor& host = it->second;
    if (host.shape() != slot.tensor.shape() || host.dtype() != DType::f32)
      throw CheckpointError(fmt::format(
          "{} optimizer state: tensor '{}' is {} {}, the model needs f32 {}", name(), slot.name,
          dtype_name(host.dtype()), shape_string(host.shape()), shape_string(slot.tensor.shape())));
  }
  for (const auto& [state_name, tensor] : host_state)
    if (!expected.contains(state_name))
      throw CheckpointError(fmt::format(
          "{} optimizer state: unexpected tensor '{}' (no such parameter or slot in this model)",
          name(), state_name));
  for (StateSlot& slot : slots_)
    parameters_->backend().copy_from_host(host_state.at(slot.name), slot.tensor);
  step_count_ = step_count;
}

namespace {

void check_option(bool valid, const char* optimizer, const char* option, float value,
                  const char* accepted) {
  if (!valid)
    throw ConfigError(fmt::format("{} optimizer: {} = {} is out of range (accepted: {})", optimizer,
                                  option, value, accepted));
}

}  // namespace

AdamWOptimizer::AdamWOptimizer(ParameterStore& parameters, const AdamWOptimizerOptions& options)
    : Optimizer(parameters), options_(options) {
  check_option(options.beta1 >= 0.0f && options.beta1 < 1.0f, "adamw", "beta1", options.beta1,
               "0 <= beta1 < 1");
  check_option(options.beta2 >= 0.0f && options.beta2 < 1.0f, "adamw", "beta2", options.beta2,
               "0 <= beta2 < 1");
  check_option(options.epsilon > 0.0f, "adamw", "epsilon", options.epsilon, "epsilon > 0");
  check_option(options.weight_decay >= 0.0f, "adamw", "weight_decay", options.weight_decay,
               "weight_decay >= 0");
  // Slots 2i and 2i+1 belong to parameter i.
  for (const auto& parameter : parameters.all()) {
    add_slot(*parameter, "exp_avg");
    add_slot(*parameter, "exp_avg_sq");
  }
}

void AdamWOptimizer::update(Parameter& parameter, std::size_t parameter_index,
                            float learning_rate) {
  AdamWOptions step_options;
  step_options.learning_rate = learning_rate;
  step_options.beta1 = options_.beta1;
  step_options.beta2 = options_.beta2;
  step_options.epsilon = options_.epsilon;
  step_options.weight_decay = parameter.weight_decay ? options_.weight_decay : 0.0f;
  step_options.step = step_count_;
  parameters_->backend().adamw_update(parameter.value, parameter.grad,
                                      slots_[2 * parameter_index].tensor,
                                      slots_[2 * parameter_index + 1].tensor, step_options);
}

SgdOptimizer::SgdOptimizer(ParameterStore& parameters, const SgdOptimizerOptions& options)
    : Optimizer(parameters), options_(options) {
  check_option(options.momentum >= 0.0f && options.momentum < 1.0f, "sgd", "momentum",
               options.momentum, "0 <= momentum < 1");
  check_option(options.weight_decay >= 0.0f, "sgd", "weight_decay", options.weight_decay,
               "weight_decay >= 0");
  if (options.nesterov && options.momentum == 0.0f)
    throw ConfigError("sgd optimizer: nesterov = true needs momentum > 0");
  std::int64_t largest = 0;
  for (const auto& parameter : parameters.all()) {
    add_slot(*parameter, "momentum_buffer");
    largest = std::max(largest, parameter->value.numel());
  }
  if (options.nesterov) nesterov_scratch_ = parameters.backend().allocate({largest}, DType::f32);
}

void SgdOptimizer::update(Parameter& parameter, std::size_t parameter_index, float learning_rate) {
  Backend& backend = parameters_->backend();
  Tensor& velocity = slots_[parameter_index].tensor;
  const float weight_decay = parameter.weight_decay ? options_.weight_decay : 0.0f;
  if (!options_.nesterov) {
    backend.sgd_update(parameter.value, parameter.grad, velocity, learning_rate, options_.momentum,
                       weight_decay);
    return;
  }
  // Nesterov from the heavy-ball kernel:
  //   d = g + wd p                         (scratch)
  //   u = mu u + d;  p -= (lr mu) u        (sgd_update with lr mu and no decay)
  //   p -= lr d
  Tensor direction = Tensor::view(nesterov_scratch_.raw(), parameter.value.shape(), DType::f32,
                                  nesterov_scratch_.device());
  backend.scale(parameter.value, weight_decay, direction);
  backend.accumulate(parameter.grad, direction);
  backend.sgd_update(parameter.value, direction, velocity, learning_rate * options_.momentum,
                     options_.momentum, 0.0f);
  backend.scale(direction, -learning_rate, direction);
  backend.accumulate(direction, parameter.value);
}

}  // namespace seqtrain
