// Graph: plain data. An array of nodes in topological order, each with its op,
// input values and output values. Models build one graph per input shape; the
// executor appends the backward nodes (autodiff), plans memory and replays it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "seqtrain/op_types.h"
#include "seqtrain/tensor.h"

namespace seqtrain {

using ValueId = std::int32_t;
inline constexpr ValueId kNoValue = -1;

enum class ValueKind : std::uint8_t {
  input,           // set by the caller before each run (token ids, targets, lengths)
  parameter,       // a trainable weight, owned by the ParameterStore
  parameter_grad,  // the gradient of a parameter, owned by the ParameterStore
  activation,      // produced by a node; lives in the executor's planned arena
};

// Every op, once: X(kind, Definition) gives the OpKind enumerator `kind`
// (also its printed name) and the OpDefinition k<Definition>Op that declares
// its shapes, its run and its gradient (src/graph/ops_*.cc). Adding an op is a
// line here, its definition, and its Backend method on each backend
// (docs/adding_an_op.md).
#define SEQTRAIN_OPS(X) \
  X(embedding, Embedding)                         \
  X(embedding_backward, EmbeddingBackward)        \
  X(matmul, Matmul)                               \
  X(bias_add, BiasAdd)                            \
  X(bias_grad, BiasGrad)                          \
  X(add, Add)                                     \
  X(mul, Mul)                                     \
  X(scale, Scale)                                 \
  X(activation, Activation)                       \
  X(activation_backward, ActivationBackward)      \
  X(softmax, Softmax)                             \
  X(softmax_backward, SoftmaxBackward)            \
  X(cross_entropy, CrossEntropy)                  \
  X(cross_entropy_backward, CrossEntropyBackward) \
  X(mse, Mse)                                     \
  X(mse_backward, MseBackward)                    \
  X(layernorm, Layernorm)                         \
  X(layernorm_backward, LayernormBackward)        \
  X(dropout, Dropout)                             \
  X(reshape, Reshape)                             \
  X(transpose01, Transpose01)                     \
  X(concat_last, ConcatLast)                      \
  X(split_last, SplitLast)                        \
  X(sequence_last, SequenceLast)                  \
  X(sequence_last_backward, SequenceLastBackward) \
  X(rnn, Rnn)                                     \
  X(rnn_backward, RnnBackward)                    \
  X(accumulate, Accumulate)                       \
  X(attention, Attention)                         \
  X(attention_backward, AttentionBackward)        \
  /* end of SEQTRAIN_OPS */

enum class OpKind : std::uint8_t {
#define SEQTRAIN_OP_KIND(kind, definition) kind,
  SEQTRAIN_OPS(SEQTRAIN_OP_KIND)
#undef SEQTRAIN_OP_KIND
};
const char* op_name(OpKind op);

// Attributes of a node. One flat struct keeps nodes printable and copyable; each
// op reads only its own fields.
struct Attributes {
  bool transpose_a = false;  // matmul
  bool transpose_b = false;  // matmul
  float alpha = 1.0f;        // matmul, scale
  Activation activation = Activation::tanh;
  float probability = 0.0f;           // dropout, attention (dropout on the probabilities)
  std::int64_t ignore_index = -100;   // cross_entropy
  float epsilon = 1e-5f;              // layernorm
  RnnCell cell = RnnCell::lstm;       // rnn
  bool reverse = false;               // rnn, sequence_last
  Shape shape;                        // reshape target, sequence_last_backward time steps
  std::int64_t split = 0;             // split_last: width of the first part
  std::uint64_t stream = 0;           // dropout, attention: random stream of this node
  std::int64_t heads = 0;             // attention: number of heads
  // dropout: the axis whose extent the batch's rows lead (0 for batch-major
  // [B, ...] and [B * T, ...], 1 for time-major [T, B, ...]), so a
  // data-parallel rank draws its rows' masks of the global batch.
  int batch_axis = 0;
  bool causal = false;                // attention: query i sees keys j <= i only
};

struct Value {
  std::string name;
  Shape shape;
  DType dtype = DType::f32;
  ValueKind kind = ValueKind::activation;
  int producer = -1;            // node index, -1 for inputs and parameters
  ValueId alias_of = kNoValue;  // reshape: shares the storage of this value
  ValueId grad_of = kNoValue;   // parameter_grad: the parameter it belongs to
};

struct Node {
  OpKind op;
  std::vector<ValueId> inputs;
  std::vector<ValueId> outputs;
  Attributes attributes;
  std::string name;
};

class Graph {
 public:
  ValueId add_input(std::string name, Shape shape, DType dtype = DType::f32);
  // A parameter named as in checkpoints ("rnn.weight_ih_l0"); its storage and
  // gradient live in the ParameterStore under that name.
  ValueId add_parameter(std::string name, Shape shape);
  ValueId add_parameter_grad(ValueId parameter);
  // target (a parameter gradient) += x.
  void add_accumulate(ValueId x, ValueId target);

  // Appends a node; output shapes are inferred from the op's definition.
  std::vector<ValueId> add_node(OpKind op, std::vector<ValueId> inputs, Attributes attributes = {},
                                std::string name = {});
  // The same, for ops with one output that matters.
  ValueId add(OpKind op, std::vector<ValueId> inputs, Attributes attributes = {},
              std::string name = {}) {
    return add_node(op, std::move(inputs), std::move(attributes), std::move(name)).front();
  }

  // The scalar that training minimises.
  void set_loss(ValueId loss);
  ValueId loss() const { return loss_; }
  // d loss / d loss: the input that starts the backward pass, which
  // append_backward adds and the executor fills (1, or a micro-batch's
  // weight). kNoValue in a graph without backward.
  void set_loss_seed(ValueId seed);
  ValueId loss_seed() const { return loss_seed_; }
  // Values the caller reads after a run (logits, predictions): kept alive to the end.
  void mark_output(ValueId value);
  const std::vector<ValueId>& outputs() const { return outputs_; }

  const Value& value(ValueId id) const;
  Value& value(ValueId id);
  const std::vector<Value>& values() const { return values_; }
  const std::vector<Node>& nodes() const { return nodes_; }
  ValueId find_value(const std::string& name) const;  // kNoValue when absent

  std::string to_string() const;  // one line per node

 private:
  ValueId new_value(Value value);

  std::vector<Value> values_;
  std::vector<Node> nodes_;
  std::vector<ValueId> outputs_;
  ValueId loss_ = kNoValue;
  ValueId loss_seed_ = kNoValue;
};

// Appends the backward nodes for graph.loss(): for every parameter reachable
// from the loss, a parameter_grad value that receives d loss / d parameter
// (added to what it holds, so micro-batches accumulate). Returns the index of the
// first backward node.
int append_backward(Graph& graph);

}  // namespace seqtrain
