// Which backend a run uses: --device auto|serial|cpu|cuda|cuda:N.
#pragma once

#include <memory>
#include <string>

#include "seqtrain/backend.h"

namespace seqtrain {

// One line about the devices this process can use.
std::string describe_devices();
// The --device values, for command-line help.
inline constexpr const char* kDeviceChoices = "auto, serial, cpu, cuda or cuda:N (GPU N)";
// True for the spellings above (whether such a device exists is select_backend's question).
bool is_device_name(const std::string& device);

// The backend for a --device value. auto picks CUDA device 0 when this build
// has the CUDA backend and a device answers, the cpu backend otherwise, and
// logs which and why. cuda (device 0) or cuda:N where there is no such device
// is a DeviceError saying what is missing. threads: OpenMP pool size for the
// CPU backends (0 = one per core). recurrent_impl (the config's model.impl)
// goes to a cuda backend; the others have fused layers only, so compare
// Backend::recurrent_impl() with what was asked where it matters.
// local_rank: this process's index among the data-parallel ranks on its node
// (Communicator::local_rank): cuda and auto then take CUDA device
// local_rank % device count, so the ranks of a node share its GPUs out;
// cuda:N takes device N whatever the rank.
std::unique_ptr<Backend> select_backend(const std::string& device, int threads,
                                        RnnImpl recurrent_impl = RnnImpl::fused,
                                        int local_rank = 0);

// ---- the CUDA backend, through its plug-in (backends/cuda_plugin.h) ----------
// make_cuda_backend is declared in seqtrain/backend.h.

// True when the CUDA plug-in is loaded (or a variant linked in): this build
// has it and its libraries were found. Whether a GPU answers is
// query_cuda_devices' question.
bool cuda_backend_available();
// One line about the CUDA part of this build: kernel architectures, library
// versions and the plug-in's path, or why it is unavailable.
std::string describe_cuda_build();

struct CudaDeviceQuery {
  int count = 0;  // devices that answer; 0 when none does or CUDA is not built
  // The devices ("1 device: NVIDIA H100 ... (sm_90, 79.1 GiB)"), or why there
  // are none ("no device (cudaGetDeviceCount: cudaErrorInsufficientDriver: ...)",
  // "unavailable: the CUDA plug-in ... needs libcudart.so.13, ...").
  std::string description;
};
// Asks the CUDA runtime which devices answer (loading the plug-in); clears
// the runtime's error when none does.
CudaDeviceQuery query_cuda_devices();

}  // namespace seqtrain
