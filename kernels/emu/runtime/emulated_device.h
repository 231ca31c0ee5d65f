// An emulated CUDA device: the CUDA runtime and cuBLAS functions that the CUDA
// backend (src/backends/cuda) calls, defined with the toolkit headers' exact
// signatures and answered on the CPU, so the backend's own host code runs in
// tests on machines without a GPU. Linking seqtrain_cuda_runtime_emu instead of
// libcudart and libcublas is the only difference (seqtrain_cuda_backend_emu);
// kernels run on kernels/emu as usual. Test machinery only: the shipped binary
// uses the real runtime.
//
// What it models:
//   memory    cudaMalloc'd memory is host memory (256-byte aligned, every byte
//             0xFF at allocation: NaN as float and bf16), counted against a
//             configurable capacity so running out is testable; cudaMemGetInfo
//             reports capacity minus what is allocated.
//   guards    what a GPU does not report: a write outside every allocation.
//             Each allocation lies between guard zones (device_allocation.h:
//             256 bytes of 0xA5 before it, and from its end to at least 256
//             bytes past it), checked after every kernel launch (the launch
//             helper's emulated side, kernels/emu) and at cudaFree. A changed
//             guard byte is a DeviceFault naming the kernel launched last and
//             the allocation (size, address), and is repaired, so each damage
//             is reported once. The CUDA backend's caching allocator hands out
//             size-class blocks bigger than the tensor they hold; in its
//             emulated build it reports each hand-out (hand_out_device_block),
//             so the block's bytes past the tensor are guard zone too and the
//             fault names the tensor's size, and copies and GEMMs must stay
//             inside the tensor, not just the block.
//   copies    cudaMemcpy/cudaMemcpyAsync/cudaMemcpy2DAsync/cudaMemset/
//             cudaMemsetAsync, executed when called. A device side must lie
//             inside one live allocation and a host side outside all of them;
//             violations are DeviceFault exceptions (on a GPU: corrupted
//             memory or a crash), a wrong direction is cudaErrorInvalidValue.
//   streams   created and destroyed handles; work on them runs in order, at
//             once (synchronisation is a no-op).
//   errors    the thread's sticky last error, names and strings for the codes
//             returned here.
//   devices   one device (sm_90, "seqtrain emulated device"), several alike
//             (set_device_count), or none as on a machine without a driver
//             (set_driver_missing).
//   cuBLAS    handles, streams, math mode, workspace; cublasGemmEx and
//             cublasGemmStridedBatchedEx with cuBLAS's column-major semantics
//             (transposes, lda/ldb/ldc, strides including 0, alpha and beta
//             from host memory, beta = 0 never reads C) for A/B/C types
//             f32/f32/f32, bf16/bf16/bf16 and bf16/bf16/f32 with fp32
//             accumulation, as plain loops. Every matrix element a GEMM reads
//             or writes must lie in a live device allocation (DeviceFault
//             otherwise), so a wrong leading dimension or stride fails loudly.
//   events    created, recorded, queried, waited for: complete once recorded
//             (work runs when issued), except behind a stalled collective.
//   NCCL      the calls of the NCCL communicator, between the processes of an
//             mpirun over MPI (emulated_nccl.cc says what is modelled).
// What it does not: asynchrony (nothing overlaps; a missing synchronisation is
// invisible), graphs, device-side pointer mode for alpha/beta,
// tensor-core rounding (products are exact fp32 here).
#pragma once

#include <cstddef>

#include "seqtrain/error.h"

namespace seqtrain::emu {

// Misuse of the emulated device that a GPU would not report cleanly: a copy or
// GEMM reaching outside device memory, host memory where device memory belongs.
class DeviceFault : public InternalError {
 public:
  using InternalError::InternalError;
};

// Bytes cudaMalloc may hand out in total (default 8 GiB; real host memory is
// only used for what is allocated). Lowering it below what is in use makes the
// next cudaMalloc fail.
void set_device_memory_capacity(std::size_t bytes);
std::size_t device_memory_capacity();
// For the CUDA backend's caching allocator (emulated build): bytes of the
// cudaMalloc'd block at `block` now hold a `holder` ("tensor", "scratch", ...;
// a string literal), the rest of the block is guard zone. Throws DeviceFault
// if the block's guards were damaged since the last check (host code writing
// through a device pointer: kernels are checked as they finish).
void hand_out_device_block(void* block, std::size_t bytes, const char* holder);
// Checks every allocation's guard zones now (the emulation does so after every
// launch and at cudaFree): DeviceFault naming the last launch if one changed.
void check_device_guard_zones();

// What cudaMalloc has handed out and not yet freed.
std::size_t device_memory_in_use();
std::size_t device_allocation_count();
bool is_device_pointer(const void* pointer);

// How many devices cudaGetDeviceCount reports (default 1): alike, sharing one
// memory, for device selection tests; cudaSetDevice/cudaGetDevice follow.
void set_device_count(int count);

// true: the runtime answers like one without a driver (cudaGetDeviceCount
// returns cudaErrorInsufficientDriver, cublasCreate CUBLAS_STATUS_NOT_INITIALIZED).
void set_driver_missing(bool missing);

// Faults of the emulated NCCL, for the next collective issued by any
// communicator of this process: fail_next_nccl_collective(code) makes
// ncclCommGetAsyncError report code (an ncclResult_t: ncclRemoteError is what
// a peer's death gives) and the collective never finish, as stalled;
// stall_next_nccl_collective makes it never finish (events recorded after it
// on its stream stay pending) until its communicator is aborted.
void fail_next_nccl_collective(int nccl_result);
void stall_next_nccl_collective();

// Restores the emulated device's memory capacity when a test scope ends.
class ScopedDeviceMemoryCapacity {
 public:
  explicit ScopedDeviceMemoryCapacity(std::size_t bytes) : previous_(device_memory_capacity()) {
    set_device_memory_capacity(bytes);
  }
  ~ScopedDeviceMemoryCapacity() { set_device_memory_capacity(previous_); }
  ScopedDeviceMemoryCapacity(const ScopedDeviceMemoryCapacity&) = delete;
  ScopedDeviceMemoryCapacity& operator=(const ScopedDeviceMemoryCapacity&) = delete;

 private:
  std::size_t previous_;
};

}  // namespace seqtrain::emu
