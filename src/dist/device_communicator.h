// Which communicator sums a backend's gradients: the serial and cpu backends
// keep them in host memory, which the host communicator (MPI) reduces; the
// cuda backend keeps them on its device, which NCCL reduces in place
// (backends/cuda/nccl_communicator.h, in the CUDA plug-in), its ranks and
// ncclUniqueId coming from the host communicator.
#pragma once

#include <memory>
#include <string>

#include "dist/communicator.h"
#include "seqtrain/backend.h"

namespace seqtrain {

// The communicator for backend's memory over host's ranks, or null when host
// itself is the one (host memory, or a single process). timeout_seconds
// (distributed.timeout_s; <= 0 none) bounds each NCCL collective's wait.
// A DeviceError when the backend's device has no collectives here.
std::unique_ptr<Communicator> make_device_communicator(Backend& backend, Communicator& host,
                                                       double timeout_seconds);

// One line for seqtrain info: NCCL's version in the CUDA plug-in, or why
// there is none.
std::string describe_nccl();

}  // namespace seqtrain
