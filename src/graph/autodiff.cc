// Reverse-mode autodiff over the node array: walk the forward nodes backwards,
// ask each op's definition for its gradient nodes, and sum the gradients of
// values used more than once.
#include <map>

#include "graph/op_definition.h"

namespace seqtrain {
namespace {

// Which values depend on a parameter (only they need gradients).
std::vector<bool> values_needing_grad(const Graph& graph, int node_count) {
  std::vector<bool> needs(graph.values().size(), false);
  for (std::size_t v = 0; v < graph.values().size(); ++v)
    needs[v] = graph.values()[v].kind == ValueKind::parameter;
  for (int n = 0; n < node_count; ++n) {
    const Node& node = graph.nodes()[n];
    bool any = false;
    for (ValueId input : node.inputs) any = any || (input != kNoValue && needs[input]);
    for (ValueId output : node.outputs) needs[output] = any;
  }
  return needs;
}

}  // namespace

int append_backward(Graph& graph) {
  SEQTRAIN_CHECK(graph.loss() != kNoValue, "append_backward: the graph has no loss");
  const int forward_count = static_cast<int>(graph.nodes().size());
  std::vector<bool> needs = values_needing_grad(graph, forward_count);
  SEQTRAIN_CHECK(needs[graph.loss()], "the loss '{}' does not depend on any parameter",
                 graph.value(graph.loss()).name);

  // grads[v]: the gradient of value v so far (summed on arrival of a second one).
  std::map<ValueId, ValueId> grads;
  auto add_gradient = [&](ValueId value, ValueId grad) {
    if (grad == kNoValue) return;
    SEQTRAIN_CHECK(graph.value(grad).shape == graph.value(value).shape,
                   "gradient {} of '{}' has shape {}, expected {}", graph.value(grad).name,
                   graph.value(value).name, shape_string(graph.value(grad).shape),
                   shape_string(graph.value(value).shape));
    auto [it, inserted] = grads.emplace(value, grad);
    if (!inserted)
      it->second = graph.add(OpKind::add, {it->second, grad}, {},
                             "sum_grad:" + graph.value(value).name);
  };

  Attributes seed_attributes;
  seed_attributes.alpha = 1.0f;
  // d loss / d loss: an input the executor fills (Graph::loss_seed).
  const ValueId seed = graph.add_input("loss.seed", graph.value(graph.loss()).shape);
  graph.set_loss_seed(seed);
  grads[graph.loss()] = seed;

  for (int n = forward_count - 1; n >= 0; --n) {
    GradientRequest request{graph.nodes()[n], {}, {}};
    bool any_output_grad = false;
    for (ValueId output : request.node.outputs) {
      auto it = grads.find(output);
      request.output_grads.push_back(it == grads.end() ? kNoValue : it->second);
      any_output_grad = any_output_grad || it != grads.end();
    }
    bool any_input_needs = false;
    for (ValueId input : request.node.inputs) {
      bool need = input != kNoValue && needs[input];
      request.needs_input_grad.push_back(need);
      any_input_needs = any_input_needs || need;
    }
    if (!any_output_grad || !any_input_needs) continue;
    const OpDefinition& definition = op_definition(request.node.op);
    SEQTRAIN_CHECK(definition.gradient != nullptr, "op {} ('{}') has no gradient",
                   op_name(request.node.op), request.node.name);
    std::vector<ValueId> input_grads = definition.gradient(graph, request);
    SEQTRAIN_CHECK(input_grads.size() == request.node.inputs.size(),
                   "gradient of {} returned {} values for {} inputs", op_name(request.node.op),
                   input_grads.size(), request.node.inputs.size());
    for (std::size_t i = 0; i < input_grads.size(); ++i)
      if (request.needs_input_grad[i]) add_gradient(request.node.inputs[i], input_grads[i]);
  }

  for (std::size_t v = 0; v < graph.values().size(); ++v) {
    if (graph.value(static_cast<ValueId>(v)).kind != ValueKind::parameter) continue;
    auto it = grads.find(static_cast<ValueId>(v));
    if (it == grads.end()) continue;
    ValueId target = graph.add_parameter_grad(static_cast<ValueId>(v));
    graph.add_accumulate(it->second, target);
  }
  return forward_count;
}

}  // namespace seqtrain
