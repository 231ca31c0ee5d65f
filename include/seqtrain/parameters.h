// ParameterStore: the trainable weights of a model, by checkpoint name, with
// their gradients. Graphs refer to parameters by name, so every cached graph of
// a model (one per input shape) shares the same weights.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "seqtrain/tensor.h"

namespace seqtrain {

class Backend;
class Rng;

struct Parameter {
  std::string name;
  Tensor value;       // on the training backend's device
  Tensor grad;        // same shape; accumulates over micro-batches until zeroed
  bool weight_decay;  // false for biases and normalisation gains
};

class ParameterStore {
 public:
  explicit ParameterStore(Backend& backend) : backend_(&backend) {}

  // Adds a zero-initialised parameter; names are unique.
  Parameter& add(const std::string& name, const Shape& shape, bool weight_decay);
  Parameter& get(const std::string& name);  // InternalError when absent
  Parameter* find(const std::string& name);
  // In insertion order (the order checkpoints list them).
  const std::vector<std::unique_ptr<Parameter>>& all() const { return parameters_; }
  std::int64_t total_elements() const;

  void zero_grads();
  // Writes host values into a parameter (initialisation, checkpoint load).
  void set_value(Parameter& parameter, const Tensor& host);
  Tensor value_to_host(const Parameter& parameter) const;
  Tensor grad_to_host(const Parameter& parameter) const;
  Backend& backend() const { return *backend_; }

 private:
  Backend* backend_;
  std::vector<std::unique_ptr<Parameter>> parameters_;
  std::map<std::string, Parameter*> by_name_;
};

// Uniform(-bound, bound) initialisation from a counter-based stream, the same
// for every backend.
Tensor uniform_tensor(const Shape& shape, float bound, Rng& rng);
Tensor normal_tensor(const Shape& shape, float stddev, Rng& rng);

}  // namespace seqtrain
