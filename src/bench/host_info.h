// What a benchmark report records about the machine it ran on, so that its
// numbers can be read: the CPU and its vector ISA, the measured FMA peak,
// the load average before and after, the environment variables that change
// speed, the CUDA devices (or why there are none).
#pragma once

#include <map>
#include <string>

namespace seqtrain {

struct HostInfo {
  std::string date_utc;         // 2026-12-07 17:40 UTC
  std::string cpu_model;        // /proc/cpuinfo's model name
  int cores = 0;                // omp_get_num_procs
  std::string vector_features;  // avx2 fma avx512f ...
  std::string fma_loop;         // the FMA peak loop's ISA
  std::string load_before;      // /proc/loadavg's three averages
  std::string load_after;
  std::string environment;  // OMP_WAIT_POLICY=..., OPENBLAS_CORETYPE=...
  std::string cuda;         // query_cuda_devices' description, or the build's reason
};

// Everything but load_after (take_load_average() at the end).
HostInfo describe_host();
std::string take_load_average();

// The report's "Host" section (markdown bullets); peaks: GFLOP/s by thread count.
std::string host_markdown(const HostInfo& host, const std::map<int, double>& fma_peaks);

}  // namespace seqtrain
