#include "dist/device_communicator.h"

#include <fmt/format.h>

#include "backends/cuda_plugin.h"
#include "seqtrain/error.h"

namespace seqtrain {

std::unique_ptr<Communicator> make_device_communicator(Backend& backend, Communicator& host,
                                                       double timeout_seconds) {
  if (backend.device() == Device::cpu || host.world_size() == 1) return nullptr;
  const CudaPlugin& plugin = cuda_plugin();
  if (plugin.api == nullptr)  // a cuda backend comes from the plug-in: not reached
    throw DeviceError("data parallel on --device cuda: the CUDA plug-in is " + plugin.unavailable);
  return plugin.api->make_nccl_communicator(backend, host, timeout_seconds);
}

std::string describe_nccl() {
  const CudaPlugin& plugin = cuda_plugin();
  if (plugin.api == nullptr)
    return "unavailable: it comes with the CUDA plug-in, which is " + plugin.unavailable;
  const std::string nccl = plugin.api->describe_nccl();
  if (nccl.starts_with("NCCL "))
    return nccl + " (CUDA plug-in): data parallel on --device cuda under mpirun";
  return nccl;
}

}  // namespace seqtrain
