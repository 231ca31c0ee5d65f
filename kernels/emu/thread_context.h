// Per-thread state of an emulated CUDA thread: the built-in index variables
// kernel code reads, and which block and thread the emulation is running on
// this OS thread. Set by launch_grid before the kernel body runs.
// (thread_local, constant-initialised inline variables: every translation unit
// reads them directly, without a TLS wrapper call; the emulation is built with
// -ftls-model=initial-exec, because thread_local access under -fPIC's default
// model costs a function call.)
#pragma once

#include <vector_types.h>

// CUDA's built-in variables (uint3 and dim3 as in the toolkit's vector_types.h).
inline thread_local uint3 threadIdx{};
inline thread_local uint3 blockIdx{};
inline thread_local dim3 blockDim{};
inline thread_local dim3 gridDim{};

namespace seqtrain::emu {

class EmulatedBlock;

// The block this OS thread is running a thread of (null outside a kernel), and
// that thread's linear index threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z).
inline thread_local EmulatedBlock* current_block = nullptr;
inline thread_local unsigned current_thread = 0;

}  // namespace seqtrain::emu
