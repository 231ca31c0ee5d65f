// Which backend a run uses: --device auto|serial|cpu|cuda.
#pragma once

#include <memory>
#include <string>

#include "seqtrain/backend.h"

namespace seqtrain {

// True when this binary was built with the CUDA backend.
bool cuda_backend_built();
// One line about the CUDA part of this build: kernel architectures and library
// versions, or that it was not built.
std::string describe_cuda_build();
// One line about the devices this process can use.
std::string describe_devices();
// The backend for a --device value. auto picks CUDA when this build has it and a
// device answers, the cpu backend otherwise, and logs why. Asking for cuda where
// there is none is a DeviceError saying what is missing. threads: OpenMP pool
// size for the CPU backends (0 = one per core).
std::unique_ptr<Backend> select_backend(const std::string& device, int threads);

}  // namespace seqtrain
