// `seqtrain bench affinity`: how an LSTM layer and a Transformer encoder
// layer (and the bare recurrent and attention ops) meet the hardware. For
// every device target, sequence length and workload (affinity_workloads.h)
// it times one training step (device_sweep.h: budget, skipped points) and
// derives: tokens/s, GFLOP/s (analytical FLOPs), the fraction of the
// device's peak, the speedup over the serial backend, the parallel
// efficiency over one cpu thread, and the critical path (dependent steps)
// of the step's graph.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "bench/affinity_workloads.h"
#include "bench/bench_table.h"
#include "bench/device_sweep.h"
#include "bench/host_info.h"

namespace seqtrain {

struct AffinityOptions {
  std::vector<std::string> devices = {"serial", "cpu", "cuda"};
  std::vector<int> threads;  // cpu pool sizes
  std::vector<std::int64_t> lengths = {16, 32, 64, 128, 256, 512, 1024};
  std::int64_t hidden = 256;
  std::int64_t batch = 8;
  double budget_seconds = 180;
  std::uint64_t seed = 1;
};

struct AffinityReport {
  AffinityOptions options;
  HostInfo host;
  SweepResult sweep;  // a point's series indexes kAffinityWorkloads
  // The critical path of each workload's step at each length.
  std::map<std::pair<AffinityWorkload, std::int64_t>, std::int64_t> critical_paths;
};

AffinityReport run_affinity_bench(const AffinityOptions& options);

// The CSV's columns (results.csv), one row per point, with the derived
// figures; the markdown report (results.md) holds the host section, the
// targets and the table.
BenchTable affinity_table(const AffinityReport& report);
std::string affinity_markdown(const AffinityReport& report, const std::string& command_line);

// Writes results.csv and results.md into directory (created if missing).
void write_affinity_report(const AffinityReport& report, const std::string& command_line,
                           const std::filesystem::path& directory);

}  // namespace seqtrain
