// State of the emulated device shared by emulated_runtime.cc and
// emulated_cublas.cc (not for tests: they use emulated_device.h).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <string>

namespace seqtrain::emu::runtime {

// Throws DeviceFault naming `what` unless [pointer, pointer + bytes) lies inside
// one live device allocation. bytes 0 checks nothing.
void require_device_range(const void* pointer, std::size_t bytes, const std::string& what);
// Throws DeviceFault naming `what` if any of [pointer, pointer + bytes) is
// device memory (a host pointer was expected).
void require_host_range(const void* pointer, std::size_t bytes, const std::string& what);

bool driver_is_missing();
// 0 <= device < the emulated device count.
bool device_exists(int device);
bool stream_is_valid(cudaStream_t stream);

// For the emulated NCCL: a collective issued on stream that never finishes
// (stall) keeps the events recorded after it pending, until release (an
// ncclCommAbort) lets them complete, as an abort ends a GPU's kernels.
void stall_stream(cudaStream_t stream);
void release_stream(cudaStream_t stream);

// Records status as the calling thread's last error (unless it is success) and
// returns it, as the runtime does for every failing call.
cudaError_t record(cudaError_t status);

}  // namespace seqtrain::emu::runtime
