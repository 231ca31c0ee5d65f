#include "backends/device_selection.h"

#include <omp.h>
#include <spdlog/spdlog.h>

#include <charconv>

namespace seqtrain {
namespace {

// "cuda" -> 0, "cuda:N" -> N, anything else -> -1.
int cuda_ordinal(const std::string& device) {
  if (device == "cuda") return 0;
  const std::string prefix = "cuda:";
  if (device.rfind(prefix, 0) != 0 || device.size() == prefix.size()) return -1;
  int ordinal = -1;
  const char* begin = device.data() + prefix.size();
  const char* end = device.data() + device.size();
  auto [stop, error] = std::from_chars(begin, end, ordinal);
  return error == std::errc{} && stop == end && ordinal >= 0 ? ordinal : -1;
}

}  // namespace

bool is_device_name(const std::string& device) {
  return device == "auto" || device == "serial" || device == "cpu" || cuda_ordinal(device) >= 0;
}

std::string describe_devices() {
  return fmt::format("cpu ({} cores); CUDA: {}", omp_get_num_procs(),
                     query_cuda_devices().description);
}

std::unique_ptr<Backend> select_backend(const std::string& device, int threads,
                                        RnnImpl recurrent_impl, int local_rank) {
  if (device == "serial") return make_serial_backend();
  if (device == "cpu") return make_cpu_backend(threads);
  if (const int ordinal = cuda_ordinal(device); ordinal >= 0) {
    if (!cuda_backend_available())
      throw DeviceError(fmt::format("--device {}: the CUDA backend is {}; use --device cpu",
                                    device, describe_cuda_build()));
    const CudaDeviceQuery devices = query_cuda_devices();
    if (devices.count == 0)
      throw DeviceError(fmt::format("--device {}: {}; use --device cpu or --device auto", device,
                                    devices.description));
    if (ordinal >= devices.count)
      throw DeviceError(
          fmt::format("--device {}: there is no CUDA device {} ({}); use cuda:0 "
                      "to cuda:{}",
                      device, ordinal, devices.description, devices.count - 1));
    if (device == "cuda" && local_rank > 0) {
      const int shared_out = local_rank % devices.count;
      spdlog::debug("--device cuda: local rank {} takes CUDA device {} of {}", local_rank,
                    shared_out, devices.count);
      return make_cuda_backend(shared_out, recurrent_impl);
    }
    return make_cuda_backend(ordinal, recurrent_impl);
  }
  if (device == "auto") {
    // Plainly when there is no GPU; why (no plug-in, library, driver or
    // device) at debug level and in seqtrain info.
    if (!cuda_backend_available()) {
      spdlog::info("device auto: no GPU found, using the CPU");
      spdlog::debug("device auto: the CUDA backend is {}", describe_cuda_build());
      return make_cpu_backend(threads);
    }
    const CudaDeviceQuery devices = query_cuda_devices();
    if (devices.count == 0) {
      spdlog::info("device auto: no GPU found, using the CPU");
      spdlog::debug("device auto: CUDA: {}", devices.description);
      return make_cpu_backend(threads);
    }
    const int shared_out = local_rank % devices.count;
    spdlog::info("device auto: using CUDA device {} (CUDA: {})", shared_out, devices.description);
    return make_cuda_backend(shared_out, recurrent_impl);
  }
  throw Error(
      fmt::format("--device '{}': expected one of auto, serial, cpu, cuda, cuda:N", device));
}

}  // namespace seqtrain
