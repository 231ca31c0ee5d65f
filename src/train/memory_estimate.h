// The memory a run will need, planned before anything large is allocated:
// the activation arena of its largest training graph (planned by liveness,
// as the executor will lay it out), the parameters and their gradients, and
// the optimizer's state. Printed at the start of every run; a run on the CPU
// that cannot fit in the memory available is refused in one line instead of
// growing until the kernel's out-of-memory killer ends it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace seqtrain {

struct MemoryEstimate {
  std::int64_t activations = 0;  // the largest training graph's arena
  std::int64_t parameters = 0;   // values and gradients
  std::int64_t optimizer_state = 0;
  std::int64_t total() const { return activations + parameters + optimizer_state; }
};

// "123.4 MiB (activations 100.0, parameters and gradients 20.0, optimizer
// state 3.4)".
std::string describe(const MemoryEstimate& estimate);

// What the host can still give (MemAvailable in /proc/meminfo), or nothing
// where that is not known.
std::optional<std::int64_t> available_host_memory_bytes();

// A ConfigError naming the keys that size the run when estimate.total()
// exceeds available (bytes).
void require_memory_fits(const MemoryEstimate& estimate, std::int64_t available);

}  // namespace seqtrain
