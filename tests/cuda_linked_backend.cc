// Test binaries that link a variant of the CUDA backend themselves (the
// emulated device in seqtrain_kernel_tests, the real runtime in
// seqtrain_gpu_tests) make it the process's CUDA backend before main, so that
// device selection (query_cuda_devices, select_backend) reaches the linked
// variant instead of loading the plug-in, a second copy of the backend.
#include "backends/cuda_plugin.h"

extern "C" const seqtrain::CudaPluginApi* seqtrain_cuda_plugin_api();

namespace {

const bool registered = [] {
  seqtrain::use_linked_cuda_backend(seqtrain_cuda_plugin_api());
  return true;
}();

}  // namespace
