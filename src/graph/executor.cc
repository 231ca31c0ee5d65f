#include "seqtrain/executor.h"

#include <spdlog/spdlog.h>

#include "graph/op_definition.h"

namespace seqtrain {

Executor::Executor(Graph graph, Backend& backend, ParameterStore& parameters, bool training)
    : graph_(std::move(graph)), backend_(&backend) {
  forward_node_count_ = static_cast<int>(graph_.nodes().size());
  if (training) append_backward(graph_);
  plan_ = plan_memory(graph_);
  spdlog::debug("graph of {} nodes ({} forward): activations planned in {:.1f} MiB, {:.1f} MiB "
                "with one buffer per tensor",
                graph_.nodes().size(), forward_node_count_, plan_.arena_bytes / 1048576.0,
                plan_.unshared_bytes / 1048576.0);
  // The arena is plan_.arena_bytes bytes, allocated as 4-byte words.
  const std::int64_t arena_words = std::max<std::int64_t>((plan_.arena_bytes + 3) / 4, 1);
  arena_ = backend.allocate({arena_words}, DType::i32);
  auto* base = static_cast<std::byte*>(arena_.raw());

  const auto& values = graph_.values();
  tensors_.resize(values.size());
  for (std::size_t v = 0; v < values.size(); ++v) {
    const Value& value = values[v];
    switch (value.kind) {
      case ValueKind::input:
        tensors_[v] = backend.allocate(value.shape, value.dtype);
        break;
      case ValueKind::parameter: {
        Parameter& parameter = parameters.get(value.name);
        SEQTRAIN_CHECK(parameter.value.shape() == value.shape,
                       "parameter '{}' is {} in the store, {} in the graph", value.name,
                       shape_string(parameter.value.shape()), shape_string(value.shape));
        tensors_[v] = parameter.value;
        break;
      }
      case ValueKind::parameter_grad:
        tensors_[v] = parameters.get(values[value.grad_of].name).grad;
        break;
      case ValueKind::activation:
        if (value.alias_of == kNoValue)
          tensors_[v] = Tensor::view(base + plan_.offsets[v], value.shape, value.dtype,
                                     backend.device());
        break;
    }
  }
  // Aliases after their owners (an alias always comes later in value order).
  for (std::size_t v = 0; v < values.size(); ++v)
    if (values[v].alias_of != kNoValue)
      tensors_[v] = tensors_[values[v].alias_of].reshaped(values[v].shape);

  loss_seed_ = graph_.loss_seed();
  if (loss_seed_ != kNoValue) {
    Tensor one = Tensor::from_vector(std::vector<float>{1.0f}, values[loss_seed_].shape);
    backend.copy_from_host(one, tensors_[loss_seed_]);
  }
}

Tensor& Executor::input(ValueId id) {
  SEQTRAIN_CHECK(graph_.value(id).kind == ValueKind::input, "'{}' is not a graph input",
                 graph_.value(id).name);
  return tensors_[id];
}

Tensor& Executor::input(const std::string& name) {
  ValueId id = graph_.find_value(name);
  SEQTRAIN_CHECK(id != kNoValue, "the graph has no input '{}'", name);
  return input(id);
}

void Executor::set_input(const std::string& name, const Tensor& host) {
  Tensor& target = input(name);
  SEQTRAIN_CHECK(host.shape() == target.shape() && host.dtype() == target.dtype(),
                 "input '{}' is {} {}, given {} {}", name, shape_string(target.shape()),
                 dtype_name(target.dtype()), shape_string(host.shape()), dtype_name(host.dtype()));
  backend_->copy_from_host(host, target);
}

void Executor::forward(const RunContext& context) { run_nodes(0, forward_node_count_, context); }

void Executor::forward_backward(const RunContext& context, float loss_scale) {
  SEQTRAIN_CHECK(graph_.nodes().size() > static_cast<std::size_t>(forward_node_count_) &&
                     loss_seed_ != kNoValue,
                 "forward_backward on an executor built without training");
  if (loss_scale != loss_seed_value_) {  // one copy when it changes, not one per step
    const Tensor seed = Tensor::from_vector(std::vector<float>{loss_scale},
                                            tensors_[loss_seed_].shape());
    backend_->copy_from_host(seed, tensors_[loss_seed_]);
    loss_seed_value_ = loss_scale;
  }
  run_nodes(0, static_cast<int>(graph_.nodes().size()), context);
}

void Executor::run_nodes(int begin, int end, const RunContext& context) {
  static Tensor missing;
  std::vector<Tensor*> inputs, outputs;
  for (int n = begin; n < end; ++n) {
    const Node& node = graph_.nodes()[n];
    inputs.clear();
    outputs.clear();
    for (ValueId id : node.inputs) inputs.push_back(id == kNoValue ? &missing : &tensors_[id]);
    for (ValueId id : node.outputs) outputs.push_back(&tensors_[id]);
    op_definition(node.op).run(*backend_, node, {inputs, outputs}, context);
  }
}

const Tensor& Executor::value(ValueId id) const {
  SEQTRAIN_CHECK(id >= 0 && id < static_cast<ValueId>(tensors_.size()), "no value {}", id);
  return tensors_[id];
}

Tensor Executor::value_to_host(ValueId id) const {
  const Tensor& source = value(id);
  Tensor host = Tensor::empty(source.shape(), source.dtype());
  backend_->copy_to_host(source, host);
  return host;
}

float Executor::loss_value() const { return value_to_host(graph_.loss()).to_vector()[0]; }

}  // namespace seqtrain
