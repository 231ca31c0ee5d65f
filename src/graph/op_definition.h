// How each op is declared once: its output shapes, how it runs on a backend and
// how its gradient flows (which backward nodes autodiff appends). Adding an op
// means: a line in SEQTRAIN_OPS (seqtrain/graph.h), a definition in one of the
// ops_*.cc files, a Backend method and its serial, cpu and cuda
// implementations (docs/adding_an_op.md).
#pragma once

#include <span>
#include <vector>

#include "seqtrain/backend.h"
#include "seqtrain/graph.h"

namespace seqtrain {

struct ValueSpec {
  Shape shape;
  DType dtype = DType::f32;
};

// Arguments of a node, resolved to tensors by the executor. An input that the
// node lists as kNoValue arrives as an undefined Tensor.
struct NodeTensors {
  std::span<Tensor* const> inputs;
  std::span<Tensor* const> outputs;
};

// What autodiff knows about a node when it asks for the gradient nodes.
struct GradientRequest {
  Node node;                               // a copy: the graph grows meanwhile
  std::vector<ValueId> output_grads;       // kNoValue where an output gets no gradient
  std::vector<bool> needs_input_grad;      // by input position
};

struct OpDefinition {
  std::vector<ValueSpec> (*infer)(const Graph& graph, const Node& node);
  void (*run)(Backend& backend, const Node& node, const NodeTensors& tensors,
              const RunContext& context);
  // Appends gradient nodes to graph; returns one gradient per input (kNoValue
  // where not needed). nullptr: the op is not differentiable (a backward op).
  std::vector<ValueId> (*gradient)(Graph& graph, const GradientRequest& request);
  // The output is a view of input 0 (reshape): it shares that storage instead
  // of getting its own in the memory plan.
  bool output_aliases_input = false;
};

const OpDefinition& op_definition(OpKind op);

// The definitions, grouped by family (ops_*.cc), one per SEQTRAIN_OPS entry.
#define SEQTRAIN_DECLARE_OP_DEFINITION(kind, definition) extern const OpDefinition k##definition##Op;
SEQTRAIN_OPS(SEQTRAIN_DECLARE_OP_DEFINITION)
#undef SEQTRAIN_DECLARE_OP_DEFINITION

// Shape checks shared by the definitions: a failed check is a bug in the model
// builder, reported with the node's name and the shapes involved.
void expect_shape(const Graph& graph, const Node& node, int input, const Shape& expected);
void expect_rank(const Graph& graph, const Node& node, int input, int rank);
void expect_dtype(const Graph& graph, const Node& node, int input, DType dtype);
const Shape& input_shape(const Graph& graph, const Node& node, int input);

}  // namespace seqtrain
