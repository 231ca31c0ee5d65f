// The one way kernels are launched, in the GPU build and in the emulation:
//
//   const LaunchConfig config{grid, block, dynamic_shared_bytes, stream};
//   SEQTRAIN_LAUNCH(config, my_kernel<float>, arg0, arg1);
//
// Under nvcc this is my_kernel<<<grid, block, dynamic_shared_bytes, stream>>>
// followed by a check of cudaGetLastError that names the launch's file and line.
// Compiled as host C++ it runs the kernel in the emulator (kernels/emu), which
// ignores the stream and returns when the grid has finished. Either way the
// geometry and shared-memory size are computed by the same code.
#pragma once

#include <cstddef>
#include <utility>

#include "kernels/device_api.h"

#if defined(__CUDACC__)
#include "kernels/cuda_check.h"
#else
#include "kernels/emu/emulator.h"
#endif

namespace seqtrain::kernels {

struct LaunchConfig {
  dim3 grid;
  dim3 block;
  std::size_t dynamic_shared_bytes = 0;
  cudaStream_t stream = nullptr;
};

// Use SEQTRAIN_LAUNCH, which passes the caller's file and line, and its
// arguments as text (kernel_and_arguments: the emulation names the kernel in
// errors with it).
template <class... Params, class... Args>
void launch_kernel(const char* file, int line, [[maybe_unused]] const char* kernel_and_arguments,
                   const LaunchConfig& config, void (*kernel)(Params...), Args&&... args) {
#if defined(__CUDACC__)
  kernel<<<config.grid, config.block, config.dynamic_shared_bytes, config.stream>>>(
      std::forward<Args>(args)...);
  check_cuda(cudaGetLastError(), "kernel launch", file, line);
#else
  emu::launch_grid({config.grid, config.block, config.dynamic_shared_bytes},
                   {emu::kernel_of_launch_arguments(kernel_and_arguments), file, line},
                   [&] { kernel(args...); });
#endif
}

}  // namespace seqtrain::kernels

#define SEQTRAIN_LAUNCH(config, ...) \
  ::seqtrain::kernels::launch_kernel(__FILE__, __LINE__, #__VA_ARGS__, config, __VA_ARGS__)
