// What the CUDA part of this build is and whether a device answers: the
// architectures nvcc compiled the kernels for, the CUDA runtime, cuBLAS, cuDNN
// and NCCL versions, and the devices. For `seqtrain info` and device selection.
// Built only with the CUDA build (SEQTRAIN_WITH_CUDA); it works without a GPU or
// driver: cudaGetDeviceCount's error is reported as "no device" and cleared.
#pragma once

#include <string>

namespace seqtrain {

struct CudaBuildInfo {
  std::string architectures;  // CMAKE_CUDA_ARCHITECTURES, e.g. "80-real 90-real 90-virtual"
  std::string runtime;        // CUDA runtime version compiled against, "13.0"
  std::string driver;         // the installed driver's CUDA version, or "none"
  std::string cublas;         // from the cuBLAS headers, "13.1.0"
  std::string cudnn;          // the loaded cuDNN, "9.19.0", or "not built"
  std::string nccl;           // the loaded NCCL, "2.28.9", or "not built"
  int device_count = 0;
  // "1 device: NVIDIA H100 80GB HBM3 (sm_90, 79.1 GiB)" or
  // "no device (cudaGetDeviceCount: cudaErrorInsufficientDriver: ...)"
  std::string devices;
};

// Asks the runtime once per call; cheap enough for `seqtrain info` and startup.
CudaBuildInfo cuda_build_info();
// The devices (CudaBuildInfo::devices) and their count, without the versions.
std::string list_cuda_devices(int& count);

}  // namespace seqtrain
