#include "bench/host_info.h"

#include <fmt/format.h>
#include <omp.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>

#include "backends/cpu/cpu_isa.h"
#include "backends/device_selection.h"
#include "bench/fma_peak.h"

namespace seqtrain {
namespace {

std::string cpu_model_name() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line))
    if (line.rfind("model name", 0) == 0) {
      const std::size_t colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
    }
  return "unknown";
}

std::string environment_variable(const char* name) {
  const char* value = std::getenv(name);
  return fmt::format("{}={}", name, value != nullptr ? value : "(unset)");
}

}  // namespace

std::string take_load_average() {
  std::ifstream loadavg("/proc/loadavg");
  std::string one, five, fifteen;
  if (!(loadavg >> one >> five >> fifteen)) return "unknown";
  return fmt::format("{} {} {}", one, five, fifteen);
}

HostInfo describe_host() {
  HostInfo host;
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", &utc);
  host.date_utc = date;
  host.cpu_model = cpu_model_name();
  host.cores = omp_get_num_procs();
  host.vector_features = cpu::cpu_vector_features();
  host.fma_loop = fma_loop_isa();
  host.load_before = take_load_average();
  host.environment = fmt::format("{}, {}, {}", environment_variable("OMP_WAIT_POLICY"),
                                 environment_variable("OMP_NUM_THREADS"),
                                 environment_variable("OPENBLAS_CORETYPE"));
  host.cuda = cuda_backend_available() ? query_cuda_devices().description : describe_cuda_build();
  return host;
}

std::string host_markdown(const HostInfo& host, const std::map<int, double>& fma_peaks) {
  std::string peaks;
  for (const auto& [threads, gflop_per_s] : fma_peaks)
    peaks += fmt::format("{}{:.1f} GFLOP/s with {} thread{}", peaks.empty() ? "" : ", ",
                         gflop_per_s, threads, threads == 1 ? "" : "s");
  return fmt::format(
      "- date: {}\n- CPU: {}, {} cores; vector features: {}\n"
      "- fp32 FMA peak (measured in this process, {} loop, per second of CPU time): {}\n"
      "- load average (1, 5, 15 min): {} before, {} after\n- environment: {}\n- CUDA: {}\n",
      host.date_utc, host.cpu_model, host.cores, host.vector_features, host.fma_loop,
      peaks.empty() ? "not measured (no CPU device)" : peaks, host.load_before, host.load_after,
      host.environment, host.cuda);
}

}  // namespace seqtrain
