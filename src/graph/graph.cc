#include "seqtrain/graph.h"

#include <fmt/format.h>

#include "graph/op_definition.h"

namespace seqtrain {

ValueId Graph::new_value(Value value) {
  values_.push_back(std::move(value));
  return static_cast<ValueId>(values_.size() - 1);
}

ValueId Graph::add_input(std::string name, Shape shape, DType dtype) {
  SEQTRAIN_CHECK(find_value(name) == kNoValue, "graph input '{}' added twice", name);
  return new_value({std::move(name), std::move(shape), dtype, ValueKind::input});
}

ValueId Graph::add_parameter(std::string name, Shape shape) {
  ValueId existing = find_value(name);
  if (existing != kNoValue) {
    SEQTRAIN_CHECK(values_[existing].kind == ValueKind::parameter && values_[existing].shape == shape,
                   "parameter '{}' used with two shapes", name);
    return existing;
  }
  return new_value({std::move(name), std::move(shape), DType::f32, ValueKind::parameter});
}

ValueId Graph::add_parameter_grad(ValueId parameter) {
  const Value& p = value(parameter);
  SEQTRAIN_CHECK(p.kind == ValueKind::parameter, "'{}' is not a parameter", p.name);
  Value grad{p.name + ".grad", p.shape, p.dtype, ValueKind::parameter_grad};
  grad.grad_of = parameter;
  return new_value(std::move(grad));
}

std::vector<ValueId> Graph::add_node(OpKind op, std::vector<ValueId> inputs,
                                     Attributes attributes, std::string name) {
  Node node{op, std::move(inputs), {}, std::move(attributes), std::move(name)};
  if (node.name.empty()) node.name = fmt::format("{}{}", op_name(op), nodes_.size());
  const OpDefinition& definition = op_definition(op);
  std::vector<ValueSpec> specs = definition.infer(*this, node);
  const int index = static_cast<int>(nodes_.size());
  for (std::size_t i = 0; i < specs.size(); ++i) {
    Value output{specs.size() == 1 ? node.name : fmt::format("{}:{}", node.name, i),
                 std::move(specs[i].shape), specs[i].dtype, ValueKind::activation, index};
    if (definition.output_aliases_input) output.alias_of = node.inputs[0];
    node.outputs.push_back(new_value(std::move(output)));
  }
  nodes_.push_back(std::move(node));
  return nodes_.back().outputs;
}

void Graph::add_accumulate(ValueId x, ValueId target) {
  SEQTRAIN_CHECK(value(target).kind == ValueKind::parameter_grad,
                 "accumulate into '{}', which is not a parameter gradient", value(target).name);
  SEQTRAIN_CHECK(value(x).shape == value(target).shape, "accumulate {} into {}",
                 shape_string(value(x).shape), shape_string(value(target).shape));
  nodes_.push_back({OpKind::accumulate, {x}, {target}, {}, "accumulate:" + value(target).name});
}

void Graph::set_loss(ValueId loss) {
  SEQTRAIN_CHECK(shape_numel(value(loss).shape) == 1, "the loss '{}' is not a scalar",
                 value(loss).name);
  loss_ = loss;
  mark_output(loss);
}

void Graph::set_loss_seed(ValueId seed) {
  SEQTRAIN_CHECK(value(seed).kind == ValueKind::input && value(seed).shape == value(loss_).shape,
                 "the loss seed '{}' is not an input shaped like the loss", value(seed).name);
  loss_seed_ = seed;
}

void Graph::mark_output(ValueId id) {
  value(id);
  for (ValueId existing : outputs_)
    if (existing == id) return;
  outputs_.push_back(id);
}

const Value& Graph::value(ValueId id) const {
  SEQTRAIN_CHECK(id >= 0 && id < static_cast<ValueId>(values_.size()), "no value {}", id);
  return values_[id];
}

Value& Graph::value(ValueId id) {
  SEQTRAIN_CHECK(id >= 0 && id < static_cast<ValueId>(values_.size()), "no value {}", id);
  return values_[id];
}

ValueId Graph::find_value(const std::string& name) const {
  for (std::size_t i = 0; i < values_.size(); ++i)
    if (values_[i].name == name) return static_cast<ValueId>(i);
  return kNoValue;
}

std::string Graph::to_string() const {
  std::string text;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    const Node& node = nodes_[i];
    text += fmt::format("{:4} {:<24} {:<28}", i, op_name(node.op), node.name);
    for (ValueId input : node.inputs)
      text += input == kNoValue ? " -" : fmt::format(" {}{}", values_[input].name,
                                                     shape_string(values_[input].shape));
    text += " ->";
    for (ValueId output : node.outputs)
      text += fmt::format(" {}", shape_string(values_[output].shape));
    text += "\n";
  }
  return text;
}

}  // namespace seqtrain
