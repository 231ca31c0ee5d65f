// The devices `seqtrain bench affinity` and `bench latency` run on, each
// with the peak its fraction of peak reads against:
//   serial     the scalar oracle, one thread: the CPU's one-thread FMA peak
//   cpu        the cpu backend at each thread count (select_backend, as
//              train applies `threads`: one OpenMP pool, resized): the FMA
//              peak measured in this process with that many threads
//   cuda[:N]   the CUDA backend: the GPU's fp32 peak as its datasheet
//              states it (a table below), or none for a GPU not in it
// A device that cannot run here (no CUDA plug-in, no driver, no GPU) is
// kept with select_backend's reason, so its rows say why they are missing.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "seqtrain/backend.h"

namespace seqtrain {

// True for serial, cpu, cuda and cuda:N.
bool is_bench_device(const std::string& device);

struct BenchTarget {
  std::string device;                // serial, cpu, cuda:N
  int threads = 0;                   // cpu: the pool's size; serial 1; cuda 0 (not applicable)
  std::unique_ptr<Backend> backend;  // null when unavailable
  std::string unavailable;           // why, when backend is null
  double peak_gflop_per_s = 0;       // 0 when unknown
  std::string peak_source;           // "FMA peak measured, 2 threads", "datasheet fp32: ..."
};

// The measured FMA peak by thread count, measured once per count.
class CpuPeaks {
 public:
  double gflop_per_s(int threads);
  const std::map<int, double>& measured() const { return peaks_; }

 private:
  std::map<int, double> peaks_;
};

// The targets for the requested devices, fastest first so that the time a
// fast target leaves unused passes to the slower ones: cuda, cpu at each
// thread count (most threads first), serial last. Nothing is opened yet
// (the cpu pool takes the size of the last cpu backend opened: open one
// cpu target at a time with open_target).
std::vector<BenchTarget> plan_targets(const std::vector<std::string>& devices,
                                      const std::vector<int>& threads);
// Opens the target's backend (or records why it cannot) and its peak.
void open_target(BenchTarget& target, CpuPeaks& peaks);
void close_target(BenchTarget& target);

// "serial", "cpu x2", "cuda:0"
std::string target_label(const BenchTarget& target);

// The datasheet fp32 (non-tensor-core) peak of a GPU named as the CUDA
// runtime names it, in GFLOP/s, with the product it matched; 0 and "" when
// the name is not in the table.
std::pair<double, std::string> stated_gpu_peak(const std::string& gpu_name);

}  // namespace seqtrain
