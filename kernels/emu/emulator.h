// The CUDA execution model on the CPU: the runtime half of kernels/emu.
// kernels/emu/cuda_emulation.h gives kernel code its device-side names
// (threadIdx, __syncthreads, __shfl_sync, atomicAdd, ...) and calls in here;
// kernels/launch.h calls launch_grid when a kernel file is compiled as host C++.
//
// How a launch runs: blocks one after another, in blockIdx order (x fastest);
// a block's threads as real threads from a persistent pool, so they interleave
// as the OS schedules them and synchronise only where the kernel does
// (__syncthreads, warp operations, atomics). Streams are ignored: every launch
// is finished when launch_grid returns. One launch runs at a time in the process
// (static __shared__ variables are plain statics, so two blocks may not overlap).
//
// Kernel bugs the emulation catches are KernelFault exceptions thrown from
// launch_grid, naming the block and where each thread was: threads that reach
// __syncthreads at different places, a deadlock (every live thread waits and no
// barrier or warp operation can complete), warp operations reached by some lanes
// only or with a partial mask, a lane that exits while its warp waits for it,
// and exceptions thrown by kernel code. A block that makes no progress for the
// watchdog timeout while some thread still runs (a spin loop) cannot be
// unwound: the watchdog prints where every thread is and aborts the process.
#pragma once

#include <vector_types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <source_location>
#include <string>

#include "seqtrain/error.h"

namespace seqtrain::emu {

// A kernel bug found by the emulation (a bug in our code, hence InternalError).
class KernelFault : public InternalError {
 public:
  using InternalError::InternalError;
};

struct LaunchGeometry {
  dim3 grid;
  dim3 block;
  std::size_t dynamic_shared_bytes = 0;
};

// A launch as errors name it.
struct LaunchSite {
  std::string kernel;  // as written at the launch, template arguments included
  const char* file = "";
  int line = 0;
};
// "kernel adamw_kernel launched at kernels/optimizer.cu:98".
std::string describe(const LaunchSite& launch);
// The kernel of SEQTRAIN_LAUNCH's stringised arguments ("kernel<A, B>, x, y"):
// the text before the first comma outside brackets, without blanks at its ends.
std::string kernel_of_launch_arguments(const char* arguments);

// Runs body on every thread of every block of the grid; each thread sees its own
// threadIdx / blockIdx / blockDim / gridDim. launch names it in errors. Throws
// KernelFault for an invalid configuration (as CUDA would refuse it: empty
// grid, more than 1024 threads per block, more than 48 KiB of dynamic shared
// memory) and for kernel bugs found while running.
void launch_grid(const LaunchGeometry& geometry, const LaunchSite& launch,
                 const std::function<void()>& body);

// Called once every launch's grid has run, before launch_grid returns, so
// that what the launch did to memory outside the kernel's own view can be
// checked and blamed on it. The emulated CUDA runtime (kernels/emu/runtime)
// registers its check of device-memory guard zones here; what it throws
// leaves launch_grid (when a block faulted, the KernelFault is thrown instead).
// One observer per process; null removes it.
using LaunchObserver = void (*)(const LaunchSite& launch);
void set_launch_observer(LaunchObserver observer);

// How long a block may go without finishing while some thread still runs
// (default 60 s). Deadlocks among waiting threads are found at once, not by it.
void set_watchdog_timeout(std::chrono::milliseconds timeout);

// ---- services for emulated device code (cuda_emulation.h) --------------------
// Called from a thread of a running block; from elsewhere they throw KernelFault.

// __syncthreads: waits until every live thread of the block arrives here.
void sync_threads(const std::source_location& where);

// One warp-wide exchange: every lane of the calling thread's warp contributes
// value, and once all 32 have, each gets the 32 contributions (by lane). mask
// must name the whole warp: partial-mask warp code is not emulated. operation
// ("__shfl_sync", ...) and where name it in reports. The returned slots stay
// valid until the caller's next warp operation.
const std::uint64_t* warp_exchange(unsigned mask, std::uint64_t value, const char* operation,
                                   const std::source_location& where);

// The running block's dynamic shared memory (launch's dynamic_shared_bytes,
// 16-byte aligned, every byte 0xFF at block start: NaN as float, bf16 or half).
void* dynamic_shared_memory();
// Its size in bytes (the launch's dynamic_shared_bytes).
std::size_t dynamic_shared_memory_bytes();

}  // namespace seqtrain::emu
