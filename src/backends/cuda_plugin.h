// The CUDA backend is a plug-in: libseqtrain_cuda.so, built beside seqtrain in
// CUDA builds, holds the backend, the kernels and the links to the CUDA
// runtime, cuBLAS, cuDNN and NCCL. Nothing else links them, so seqtrain starts
// and trains on the CPU where no CUDA library exists; the plug-in is loaded
// the first time a run asks about CUDA (--device auto or cuda, seqtrain info),
// and when it cannot be, `unavailable` says why (not built, plug-in not
// found, a CUDA library missing), in words device selection and info print.
//
// Where the plug-in is looked for, in order: $SEQTRAIN_CUDA_PLUGIN (a path);
// ../lib/ and ./ beside the running executable (the package's layout and the
// build tree's); the build tree's own copy. The CUDA libraries it needs are
// found by the loader (LD_LIBRARY_PATH, ldconfig), else in
// $SEQTRAIN_CUDA_LIBRARY_PATH (colon-separated folders), /usr/local/cuda, or
// the nvidia/*/lib folders of Python's CUDA wheels (what pip install torch
// brings), preloaded from there before the plug-in.
#pragma once

#include <memory>
#include <string>

#include "backends/device_selection.h"
#include "core/plugin_files.h"
#include "dist/communicator.h"
#include "seqtrain/backend.h"

namespace seqtrain {

// The plug-in's table of entry points. Plug-in and core come from one build
// (one compiler, one C++ ABI): abi and seqtrain_version are checked on load,
// so they stay the first two members whatever else changes (raise abi then).
inline constexpr int kCudaPluginAbi = 2;  // 2: NCCL
struct CudaPluginApi {
  int abi;
  const char* seqtrain_version;
  // Kernel architectures and library versions (describe_cuda_build).
  std::string (*describe_build)();
  CudaDeviceQuery (*query_devices)();
  std::unique_ptr<Backend> (*make_backend)(int device_index, RnnImpl recurrent_impl);
  // "NCCL 2.28.9", or why the plug-in has no NCCL (describe_nccl).
  std::string (*describe_nccl)();
  // The NCCL communicator over host's ranks on backend's device (a backend
  // this plug-in made): backends/cuda/nccl_communicator.h.
  std::unique_ptr<Communicator> (*make_nccl_communicator)(Backend& backend, Communicator& host,
                                                          double timeout_seconds);
};

// The plug-in's file and the C symbol that returns its table
// (extern "C" const CudaPluginApi* seqtrain_cuda_plugin_api()).
inline constexpr const char* kCudaPluginFile = "libseqtrain_cuda.so";
inline constexpr const char* kCudaPluginEntry = "seqtrain_cuda_plugin_api";

using CudaPlugin = Plugin<CudaPluginApi>;  // path "linked in" for a linked variant

// The process's CUDA backend: loaded (or found missing) on the first call,
// then the same answer. Never throws.
const CudaPlugin& cuda_plugin();

// For a binary that links a variant of the backend itself (seqtrain_kernel_tests:
// the emulated device): use api instead of loading the plug-in. Call before
// the first cuda_plugin().
void use_linked_cuda_backend(const CudaPluginApi* api);

}  // namespace seqtrain
