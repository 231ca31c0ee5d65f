// GraphCache: the runners' (MlmRunner, SequenceRunner) one Executor per batch
// layout, built on the first batch of that layout and replayed after: a phase
// change or a short last batch adds an entry, the steady state adds none. A
// runner evicts the layouts it will not see again (MlmRunner: those of a
// finished phase).
#pragma once

#include <cstdint>
#include <map>
#include <utility>

namespace seqtrain {

// Entry is a runner's cached graph: a std::unique_ptr<Executor> `executor` and
// the value ids the runner reads back.
template <class Key, class Entry>
class GraphCache {
 public:
  // The entry for key; build() makes it when there is none yet.
  template <class Build>
  Entry& find_or_build(const Key& key, Build&& build) {
    auto found = entries_.find(key);
    if (found != entries_.end()) return found->second;
    return entries_.emplace(key, build()).first->second;
  }

  bool contains(const Key& key) const { return entries_.contains(key); }

  // Drops the entries whose key satisfies stale(key), with their executors
  // and activation arenas.
  template <class Stale>
  void evict_if(Stale&& stale) {
    std::erase_if(entries_, [&](const auto& entry) { return stale(entry.first); });
  }

  // Bytes planned for activations across the cached graphs, and what one
  // buffer per tensor would take.
  std::pair<std::int64_t, std::int64_t> planned_bytes() const {
    std::int64_t planned = 0, unshared = 0;
    for (const auto& [key, entry] : entries_) {
      planned += entry.executor->memory_plan().arena_bytes;
      unshared += entry.executor->memory_plan().unshared_bytes;
    }
    return {planned, unshared};
  }

 private:
  std::map<Key, Entry> entries_;
};

}  // namespace seqtrain
