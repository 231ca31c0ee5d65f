// Executor: runs one Graph on one Backend. At construction it appends the
// backward nodes (when training), plans activation memory by liveness and
// allocates one arena; each run is then a loop over the node array with no
// allocation. Models keep one Executor per input shape (see GraphCache).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "seqtrain/backend.h"
#include "seqtrain/graph.h"
#include "seqtrain/parameters.h"

namespace seqtrain {

// Where each activation lives in the arena. Values whose lifetimes do not
// overlap share bytes.
struct MemoryPlan {
  std::vector<std::int64_t> offsets;  // by ValueId; -1 for values outside the arena
  std::int64_t arena_bytes = 0;       // what the plan allocates
  std::int64_t unshared_bytes = 0;    // what one buffer per activation would take
};

// Plans graph's activations given the index of the last node each run executes.
MemoryPlan plan_memory(const Graph& graph);

class Executor {
 public:
  // training: append backward nodes and accumulate into parameter gradients.
  Executor(Graph graph, Backend& backend, ParameterStore& parameters, bool training);

  // The tensor behind an input value, to fill before run (host memory on cpu backends).
  Tensor& input(const std::string& name);
  Tensor& input(ValueId id);
  // Copies a host tensor into an input.
  void set_input(const std::string& name, const Tensor& host);

  // Forward only (evaluation, generation).
  void forward(const RunContext& context);
  // Forward and backward: parameter gradients receive
  // loss_scale * d loss / d parameter.
  void forward_backward(const RunContext& context, float loss_scale = 1.0f);

  // An output, loss or input value after a run.
  const Tensor& value(ValueId id) const;
  Tensor value_to_host(ValueId id) const;
  float loss_value() const;

  const Graph& graph() const { return graph_; }
  const MemoryPlan& memory_plan() const { return plan_; }
  // What the arena actually holds: the plan's bytes rounded up to a 4-byte word.
  std::int64_t arena_allocated_bytes() const { return static_cast<std::int64_t>(arena_.bytes()); }

 private:
  void run_nodes(int begin, int end, const RunContext& context);

  Graph graph_;
  Backend* backend_;
  int forward_node_count_;
  MemoryPlan plan_;
  Tensor arena_;
  std::vector<Tensor> tensors_;  // by ValueId
  ValueId loss_seed_ = kNoValue;  // d loss / d loss, the backward's input
  float loss_seed_value_ = 1.0f;
};

}  // namespace seqtrain
