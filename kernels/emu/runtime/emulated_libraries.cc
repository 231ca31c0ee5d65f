// The version queries of cuDNN and NCCL that `seqtrain info` makes
// (src/backends/cuda/cuda_build_info.cc), answered with the headers' versions:
// the emulated device has the libraries it was compiled against.
#if SEQTRAIN_WITH_CUDNN
#include <cudnn.h>

size_t cudnnGetVersion(void) {
  return CUDNN_VERSION;
}
#endif

#if SEQTRAIN_WITH_NCCL
#include <nccl.h>

ncclResult_t ncclGetVersion(int* version) {
  if (version == nullptr) return ncclInvalidArgument;
  *version = NCCL_VERSION_CODE;
  return ncclSuccess;
}
#endif
