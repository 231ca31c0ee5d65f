#include "train/memory_estimate.h"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include "seqtrain/error.h"

namespace seqtrain {
namespace {

double mebibytes(std::int64_t bytes) { return static_cast<double>(bytes) / 1048576.0; }

}  // namespace

std::string describe(const MemoryEstimate& estimate) {
  return fmt::format(
      "{:.1f} MiB (activations {:.1f}, parameters and gradients {:.1f}, optimizer state {:.1f})",
      mebibytes(estimate.total()), mebibytes(estimate.activations), mebibytes(estimate.parameters),
      mebibytes(estimate.optimizer_state));
}

std::optional<std::int64_t> available_host_memory_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  for (std::string line; std::getline(meminfo, line);) {
    std::istringstream fields(line);
    std::string name;
    std::int64_t kibibytes = 0;
    if (fields >> name >> kibibytes && name == "MemAvailable:") return kibibytes * 1024;
  }
  return std::nullopt;
}

void require_memory_fits(const MemoryEstimate& estimate, std::int64_t available) {
  if (estimate.total() <= available) return;
  throw ConfigError(fmt::format(
      "this run needs about {}, more than the {:.1f} MiB of memory available: lower "
      "data.batch_size or data.sequence_length (data.phases for mlm), or the model's size",
      describe(estimate), mebibytes(available)));
}

}  // namespace seqtrain
