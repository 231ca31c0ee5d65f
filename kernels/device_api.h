// What a kernel file includes first: CUDA's device API, real under nvcc,
// emulated on the CPU otherwise (kernels/emu/cuda_emulation.h), plus the few
// macros that must read differently in the two builds.
//
//   SEQTRAIN_DYNAMIC_SHARED(type, name)  declares `type* name`, the launch's
//       dynamic shared memory (LaunchConfig::dynamic_shared_bytes), 16-byte
//       aligned. Host C++ has no `extern __shared__`, hence the macro.
//   SEQTRAIN_UNROLL  `#pragma unroll` for nvcc, nothing for g++ (which warns
//       about the pragma).
//
// Kernel code must not test SEQTRAIN_CUDA_EMULATION or __CUDACC__: the point of
// the emulation is that the GPU and the tests run the same source.
#pragma once

#if defined(__CUDACC__)

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#define SEQTRAIN_DYNAMIC_SHARED(type, name)                                      \
  extern __shared__ __align__(16) unsigned char seqtrain_dynamic_shared_bytes[]; \
  type* name = reinterpret_cast<type*>(seqtrain_dynamic_shared_bytes)
#define SEQTRAIN_UNROLL _Pragma("unroll")

#else

#include "kernels/emu/cuda_emulation.h"

#define SEQTRAIN_DYNAMIC_SHARED(type, name) \
  type* name = static_cast<type*>(::seqtrain::emu::dynamic_shared_memory())
#define SEQTRAIN_UNROLL

#endif
