#include "backends/device_selection.h"

#include <omp.h>

#include <spdlog/spdlog.h>

namespace seqtrain {

bool cuda_backend_built() { return false; }

std::string describe_devices() {
  return fmt::format("cpu ({} cores); no CUDA backend in this build", omp_get_num_procs());
}

std::unique_ptr<Backend> select_backend(const std::string& device, int threads) {
  if (device == "serial") return make_serial_backend();
  if (device == "cpu") return make_cpu_backend(threads);
  if (device == "cuda")
    throw DeviceError(
        "--device cuda: this build has no CUDA backend (rebuild on a machine with the CUDA "
        "toolkit, or use --device cpu)");
  if (device == "auto") {
    spdlog::info("device auto: using the cpu backend (this build has no CUDA backend)");
    return make_cpu_backend(threads);
  }
  throw Error(fmt::format("--device '{}': expected one of auto, serial, cpu, cuda", device));
}

}  // namespace seqtrain
