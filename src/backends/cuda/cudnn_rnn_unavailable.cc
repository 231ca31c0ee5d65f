// make_cudnn_rnn where cuDNN cannot run: the emulated device (which does not
// emulate cuDNN; SEQTRAIN_CUDNN_EMULATED=1) and builds without cuDNN
// (SEQTRAIN_CUDNN_EMULATED=0): src/backends/cuda/CMakeLists.txt.
#include <fmt/format.h>

#include "backends/cuda/cudnn_rnn.h"
#include "seqtrain/error.h"

namespace seqtrain {

std::unique_ptr<CudnnRnn> make_cudnn_rnn(cudaStream_t, std::shared_ptr<cuda::DeviceAllocator>) {
  const char* reason =
      SEQTRAIN_CUDNN_EMULATED
          ? "the emulated device does not emulate cuDNN (it runs on a GPU only)"
          : "this build has no cuDNN (configure found none: install cuDNN or set CUDNN_ROOT, "
            "then rebuild)";
  throw DeviceError(
      fmt::format("model.impl: cudnn is not available: {}; use model.impl: fused", reason));
}

}  // namespace seqtrain
