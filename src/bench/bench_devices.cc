#include "bench/bench_devices.h"

#include <fmt/format.h>

#include <algorithm>

#include "backends/device_selection.h"
#include "bench/fma_peak.h"
#include "seqtrain/error.h"

namespace seqtrain {
namespace {

// The GPU name of device `ordinal` in query_cuda_devices' description
// ("2 devices: NVIDIA H100 PCIe (sm_90, 79.1 GiB), NVIDIA ... (...)").
std::string cuda_device_name(const std::string& description, int ordinal) {
  std::size_t begin = description.find(':');
  for (int device = 0; begin != std::string::npos; ++device) {
    const std::size_t open = description.find(" (", begin + 1);
    if (open == std::string::npos) break;
    if (device == ordinal) {
      std::string name = description.substr(begin + 1, open - begin - 1);
      name.erase(0, name.find_first_not_of(' '));
      return name;
    }
    begin = description.find("), ", open);
    if (begin != std::string::npos) begin += 1;
  }
  return "";
}

int cuda_ordinal(const std::string& device) {
  return device == "cuda" ? 0 : std::stoi(device.substr(5));
}

}  // namespace

bool is_bench_device(const std::string& device) {
  return device != "auto" && is_device_name(device);
}

double CpuPeaks::gflop_per_s(int threads) {
  auto found = peaks_.find(threads);
  if (found == peaks_.end())
    found = peaks_.emplace(threads, measure_fma_peak(threads).gflop_per_s).first;
  return found->second;
}

std::vector<BenchTarget> plan_targets(const std::vector<std::string>& devices,
                                      const std::vector<int>& threads) {
  std::vector<BenchTarget> targets;
  for (const std::string& device : devices) {
    SEQTRAIN_CHECK(is_bench_device(device), "bench device '{}'", device);
    if (device != "serial" && device != "cpu")
      targets.push_back({fmt::format("cuda:{}", cuda_ordinal(device)), 0, nullptr, "", 0, ""});
  }
  if (std::find(devices.begin(), devices.end(), "cpu") != devices.end()) {
    std::vector<int> counts = threads;
    std::sort(counts.rbegin(), counts.rend());
    for (int count : counts) targets.push_back({"cpu", count, nullptr, "", 0, ""});
  }
  if (std::find(devices.begin(), devices.end(), "serial") != devices.end())
    targets.push_back({"serial", 1, nullptr, "", 0, ""});
  return targets;
}

void open_target(BenchTarget& target, CpuPeaks& peaks) {
  try {
    target.backend = select_backend(target.device, target.threads);
  } catch (const Error& error) {  // no plug-in, no driver, no such GPU: its words
    target.unavailable = error.what();
    return;
  }
  if (target.device == "serial" || target.device == "cpu") {
    target.peak_gflop_per_s = peaks.gflop_per_s(target.threads);
    target.peak_source =
        fmt::format("the fp32 FMA peak measured in this process with {} thread{}, {} loop",
                    target.threads, target.threads == 1 ? "" : "s", fma_loop_isa());
    return;
  }
  const std::string name =
      cuda_device_name(query_cuda_devices().description, cuda_ordinal(target.device));
  const auto [peak, product] = stated_gpu_peak(name);
  target.peak_gflop_per_s = peak;
  target.peak_source = peak > 0 ? fmt::format("{}: datasheet fp32 peak of the {}", name, product)
                                : fmt::format("{}: no stated peak in seqtrain's table", name);
}

void close_target(BenchTarget& target) {
  target.backend.reset();
}

std::string target_label(const BenchTarget& target) {
  return target.device == "cpu" ? fmt::format("cpu x{}", target.threads) : target.device;
}

std::pair<double, std::string> stated_gpu_peak(const std::string& gpu_name) {
  // NVIDIA's datasheets, fp32 without tensor cores (the cuda backend's fp32
  // GEMMs run CUBLAS_COMPUTE_32F), dense, boost clock; NVL and other
  // variants with other clocks are not guessed.
  struct Entry {
    const char* fragment;
    double gflop_per_s;
    const char* product;
  };
  static const Entry kTable[] = {
      {"NVL", 0, ""},
      {"H100 PCIe", 51'200, "H100 PCIe (51.2 TFLOPS)"},
      {"H100", 66'900, "H100 SXM5 (66.9 TFLOPS)"},
      {"H200", 66'900, "H200 SXM (66.9 TFLOPS)"},
      {"A100", 19'500, "A100 (19.5 TFLOPS)"},
      {"L40S", 91'600, "L40S (91.6 TFLOPS)"},
      {"L40", 0, ""},
      {"L4", 30'300, "L4 (30.3 TFLOPS)"},
  };
  for (const Entry& entry : kTable)
    if (gpu_name.find(entry.fragment) != std::string::npos)
      return {entry.gflop_per_s, entry.product};
  return {0, ""};
}

}  // namespace seqtrain
