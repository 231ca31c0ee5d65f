// Liveness-based memory planning. Every activation lives from the node that
// produces it to the last node that reads it (or its reshaped aliases); values
// whose lifetimes do not overlap share arena bytes. Placement is greedy best-fit,
// largest first, which is within a few percent of optimal on layer-structured
// graphs.
#include <algorithm>

#include "seqtrain/executor.h"

namespace seqtrain {
namespace {

constexpr std::int64_t round_up(std::int64_t bytes) {
  return (bytes + kTensorAlignment - 1) / static_cast<std::int64_t>(kTensorAlignment) *
         static_cast<std::int64_t>(kTensorAlignment);
}

ValueId storage_owner(const Graph& graph, ValueId id) {
  while (graph.value(id).alias_of != kNoValue) id = graph.value(id).alias_of;
  return id;
}

struct Interval {
  ValueId value;
  int first, last;
  std::int64_t bytes;
  std::int64_t offset = -1;
};

}  // namespace

MemoryPlan plan_memory(const Graph& graph) {
  const int node_count = static_cast<int>(graph.nodes().size());
  const auto& values = graph.values();
  std::vector<int> last_use(values.size(), -1);
  for (int n = 0; n < node_count; ++n)
    for (ValueId input : graph.nodes()[n].inputs)
      if (input != kNoValue) {
        ValueId owner = storage_owner(graph, input);
        last_use[owner] = std::max(last_use[owner], n);
      }
  for (ValueId output : graph.outputs()) last_use[storage_owner(graph, output)] = node_count;

  std::vector<Interval> intervals;
  for (std::size_t v = 0; v < values.size(); ++v) {
    const Value& value = values[v];
    if (value.kind != ValueKind::activation || value.alias_of != kNoValue) continue;
    std::int64_t bytes = round_up(shape_numel(value.shape) * static_cast<std::int64_t>(dtype_size(value.dtype)));
    // A value nobody reads is scratch: it lives for its own node only.
    int last = std::max(last_use[v], value.producer);
    intervals.push_back({static_cast<ValueId>(v), value.producer, last, bytes});
  }

  MemoryPlan plan;
  plan.offsets.assign(values.size(), -1);
  std::vector<Interval*> order;
  for (auto& interval : intervals) {
    order.push_back(&interval);
    plan.unshared_bytes += interval.bytes;
  }
  std::stable_sort(order.begin(), order.end(),
                   [](const Interval* a, const Interval* b) { return a->bytes > b->bytes; });

  std::vector<const Interval*> placed;
  for (Interval* interval : order) {
    // Occupied byte ranges of already placed values whose lifetimes overlap.
    std::vector<std::pair<std::int64_t, std::int64_t>> busy;
    for (const Interval* other : placed)
      if (other->first <= interval->last && interval->first <= other->last)
        busy.emplace_back(other->offset, other->offset + other->bytes);
    std::sort(busy.begin(), busy.end());
    std::int64_t best = -1, best_gap = 0, cursor = 0;
    for (auto [begin, end] : busy) {
      std::int64_t gap = begin - cursor;
      if (gap >= interval->bytes && (best < 0 || gap < best_gap)) {
        best = cursor;
        best_gap = gap;
      }
      cursor = std::max(cursor, end);
    }
    interval->offset = best >= 0 ? best : cursor;
    plan.arena_bytes = std::max(plan.arena_bytes, interval->offset + interval->bytes);
    placed.push_back(interval);
  }
  for (const auto& interval : intervals) plan.offsets[interval.value] = interval.offset;
  return plan;
}

}  // namespace seqtrain
