// Optimizers: update every parameter of a ParameterStore from its gradient,
// keeping per-parameter state (moment estimates, momentum) on the training
// backend. The learning rate is passed to each step, because the schedule owns
// it (lr_schedule.h).
//
// State tensors are named "<parameter>.<slot>" with PyTorch's slot names
// (exp_avg, exp_avg_sq for AdamW; momentum_buffer for SGD), which is how
// checkpoints store them (optimizer.safetensors).
//
// Weight decay applies only to parameters whose weight_decay flag is true
// (not to biases and normalisation gains).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "seqtrain/parameters.h"
#include "seqtrain/tensor.h"

namespace seqtrain {

class Optimizer {
 public:
  // Allocates zero state for every parameter the store holds now; parameters
  // added later are not optimized (models add all parameters before training).
  explicit Optimizer(ParameterStore& parameters)
      : parameters_(&parameters), parameter_count_(parameters.all().size()) {}
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  virtual std::string name() const = 0;  // "adamw", "sgd": written into checkpoints

  // One update of every parameter from its accumulated gradient. Increments
  // step_count() first, so the first step is step 1 (AdamW's bias correction).
  void step(float learning_rate);
  std::int64_t step_count() const { return step_count_; }

  // Shapes of the state tensors by name, without copying them.
  std::map<std::string, Shape> state_shapes() const;
  // Host copies of the state tensors, by name.
  std::map<std::string, Tensor> state_to_host() const;
  // Restores state written by state_to_host (a checkpoint). The names and
  // shapes must be exactly state_shapes(): a missing, extra or misshapen tensor
  // is a CheckpointError naming it, and nothing is changed then.
  void load_state(const std::map<std::string, Tensor>& host_state, std::int64_t step_count);

 protected:
  struct StateSlot {
    std::string name;  // "<parameter>.<slot>"
    Tensor tensor;     // on the backend, shape of the parameter
  };
  // Adds a zero-initialised slot for the parameter; returns its index in slots_.
  std::size_t add_slot(const Parameter& parameter, const std::string& slot_name);
  virtual void update(Parameter& parameter, std::size_t parameter_index, float learning_rate) = 0;

  ParameterStore* parameters_;
  std::size_t parameter_count_;  // the store's size when the optimizer was made
  std::vector<StateSlot> slots_;
  std::int64_t step_count_ = 0;
};

struct AdamWOptimizerOptions {
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float epsilon = 1e-8f;
  float weight_decay = 0.01f;
};

// AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization"), as
// torch.optim.AdamW computes it. With g the gradient and t the step (1-based):
//   m = beta1 m + (1 - beta1) g
//   v = beta2 v + (1 - beta2) g^2
//   m_hat = m / (1 - beta1^t),  v_hat = v / (1 - beta2^t)
//   p = p - lr (m_hat / (sqrt(v_hat) + epsilon) + weight_decay p)
// The decay term is decoupled from the adaptive scaling: it is PyTorch's
// p *= 1 - lr wd followed by the Adam step, since the Adam step does not read p.
class AdamWOptimizer final : public Optimizer {
 public:
  AdamWOptimizer(ParameterStore& parameters, const AdamWOptimizerOptions& options);
  std::string name() const override { return "adamw"; }
  const AdamWOptimizerOptions& options() const { return options_; }

 private:
  void update(Parameter& parameter, std::size_t parameter_index, float learning_rate) override;

  AdamWOptimizerOptions options_;
};

struct SgdOptimizerOptions {
  float momentum = 0.0f;
  float weight_decay = 0.0f;
  bool nesterov = false;
};

// SGD with momentum, as torch.optim.SGD computes it (dampening 0):
//   d = g + weight_decay p
//   u = momentum u + d            (u starts at zero, so the first u is d)
//   p = p - lr u                  (heavy ball), or
//   p = p - lr (d + momentum u)   (nesterov)
// With momentum 0 the velocity is kept but stays equal to d.
class SgdOptimizer final : public Optimizer {
 public:
  SgdOptimizer(ParameterStore& parameters, const SgdOptimizerOptions& options);
  std::string name() const override { return "sgd"; }
  const SgdOptimizerOptions& options() const { return options_; }

 private:
  void update(Parameter& parameter, std::size_t parameter_index, float learning_rate) override;

  SgdOptimizerOptions options_;
  Tensor nesterov_scratch_;  // flat, as large as the largest parameter (nesterov only)
};

}  // namespace seqtrain
