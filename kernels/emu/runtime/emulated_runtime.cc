// The CUDA runtime functions the CUDA backend calls, answered on the CPU
// (emulated_device.h says what is modelled). Signatures are the toolkit's
// (cuda_runtime_api.h declares them extern "C"), so the backend's object code
// links against these instead of libcudart unchanged.
#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <mutex>
#include <new>
#include <optional>
#include <set>
#include <string>

#include "kernels/emu/emulator.h"
#include "kernels/emu/runtime/device_allocation.h"
#include "kernels/emu/runtime/device_state.h"
#include "kernels/emu/runtime/emulated_device.h"

// The runtime's handle types are opaque; the emulation gives them a body.
struct CUstream_st {
  unsigned flags = 0;
  // An emulated NCCL collective that never finishes was issued on it
  // (stall_stream): events recorded after it stay pending until it is
  // released (an ncclCommAbort).
  bool stalled = false;
  unsigned releases = 0;  // how often a stall was released
};
struct CUevent_st {
  cudaStream_t stream = nullptr;
  bool pending = false;   // recorded behind a stall
  unsigned releases = 0;  // the stream's releases when recorded
};

namespace seqtrain::emu {
namespace {

using runtime::DeviceAllocation;
using Allocations = std::map<std::uintptr_t, DeviceAllocation>;  // user() -> allocation

struct Device {
  std::mutex mutex;
  Allocations allocations;
  // describe() of the kernel launched last, for damage found outside a launch.
  std::string last_launch = "no kernel launched yet";
  std::size_t capacity = std::size_t{8} << 30;
  std::size_t in_use = 0;
  std::set<cudaStream_t> streams;
  std::set<cudaEvent_t> events;
  bool driver_missing = false;
  int device_count = 1;  // set_device_count: devices alike, one memory
  int current_device = 0;
};

Device& device() {
  static Device instance;
  return instance;
}

thread_local cudaError_t last_error = cudaSuccess;

// The live allocation containing address, or allocations.end(). Caller holds the mutex.
Allocations::iterator containing(Device& state, std::uintptr_t address) {
  auto after = state.allocations.upper_bound(address);
  if (after == state.allocations.begin()) return state.allocations.end();
  auto candidate = std::prev(after);
  return address < candidate->first + candidate->second.size() ? candidate
                                                               : state.allocations.end();
}

bool overlaps_device(const Device& state, std::uintptr_t begin, std::uintptr_t end) {
  auto after = state.allocations.lower_bound(end);
  if (after == state.allocations.begin()) return false;
  auto candidate = std::prev(after);
  return candidate->first + candidate->second.size() > begin;
}

// Every damaged guard zone, repaired (so each damage is reported once), as
// one DeviceFault naming `when` ("after kernel ... launched at ..."). Caller
// holds the mutex.
void check_guard_zones(Device& state, const std::string& when) {
  std::string damage;
  for (auto& [start, allocation] : state.allocations) {
    std::string found = allocation.guard_damage();
    if (found.empty()) continue;
    allocation.repair_guards();
    damage += fmt::format("{}{}", damage.empty() ? "" : "; ", found);
  }
  if (!damage.empty())
    throw DeviceFault(
        fmt::format("emulated CUDA device: memory outside every allocation was written ({}): {}",
                    when, damage));
}

// The launch observer (emulator.h): whatever a kernel wrote outside its
// tensors shows in a guard zone now, and is that kernel's doing.
void check_guard_zones_after_launch(const LaunchSite& launch) {
  Device& state = device();
  std::lock_guard lock(state.mutex);
  state.last_launch = describe(launch);
  check_guard_zones(state, fmt::format("found after {}", state.last_launch));
}

}  // namespace

namespace runtime {

void require_device_range(const void* pointer, std::size_t bytes, const std::string& what) {
  if (bytes == 0) return;
  Device& state = device();
  std::lock_guard lock(state.mutex);
  const auto address = reinterpret_cast<std::uintptr_t>(pointer);
  auto found = containing(state, address);
  if (found == state.allocations.end())
    throw DeviceFault(fmt::format("emulated CUDA device: {} at {} ({} bytes) is not device memory",
                                  what, pointer, bytes));
  // What its holder may touch: a tensor from the caching allocator ends where
  // the tensor does, not where its size class does.
  const std::uintptr_t end = found->first + found->second.in_use();
  if (address + bytes > end)
    throw DeviceFault(fmt::format(
        "emulated CUDA device: {} ({} bytes at offset {} of {}) reaches {} bytes past its end",
        what, bytes, address - found->first, found->second.description(), address + bytes - end));
}

void require_host_range(const void* pointer, std::size_t bytes, const std::string& what) {
  if (bytes == 0) return;
  Device& state = device();
  std::lock_guard lock(state.mutex);
  const auto address = reinterpret_cast<std::uintptr_t>(pointer);
  if (overlaps_device(state, address, address + bytes))
    throw DeviceFault(fmt::format(
        "emulated CUDA device: {} at {} ({} bytes) is device memory where host memory was "
        "expected",
        what, pointer, bytes));
}

bool driver_is_missing() {
  Device& state = device();
  std::lock_guard lock(state.mutex);
  return state.driver_missing;
}

bool stream_is_valid(cudaStream_t stream) {
  if (stream == nullptr) return true;  // the legacy default stream
  Device& state = device();
  std::lock_guard lock(state.mutex);
  return state.streams.contains(stream);
}

cudaError_t record(cudaError_t status) {
  if (status != cudaSuccess) last_error = status;
  return status;
}

bool device_exists(int ordinal) {
  Device& state = device();
  std::lock_guard lock(state.mutex);
  return ordinal >= 0 && ordinal < state.device_count;
}

void stall_stream(cudaStream_t stream) {
  Device& state = device();
  std::lock_guard lock(state.mutex);
  if (state.streams.contains(stream)) stream->stalled = true;
}

void release_stream(cudaStream_t stream) {
  Device& state = device();
  std::lock_guard lock(state.mutex);
  if (!state.streams.contains(stream) || !stream->stalled) return;
  stream->stalled = false;
  ++stream->releases;
}

}  // namespace runtime

void set_device_memory_capacity(std::size_t bytes) {
  Device& state = device();
  std::lock_guard lock(state.mutex);
  state.capacity = bytes;
}

std::size_t device_memory_capacity() {
  Device& state = device();
  std::lock_guard lock(state.mutex);
  return state.capacity;
}

std::size_t device_memory_in_use() {
  Device& state = device();
  std::lock_guard lock(state.mutex);
  return state.in_use;
}

void hand_out_device_block(void* block, std::size_t bytes, const char* holder) {
  Device& state = device();
  std::lock_guard lock(state.mutex);
  auto found = state.allocations.find(reinterpret_cast<std::uintptr_t>(block));
  if (found == state.allocations.end())
    throw DeviceFault(fmt::format(
        "emulated CUDA device: the caching allocator handed out {}, which is not the start of "
        "a live allocation",
        block));
  if (std::string damage = found->second.guard_damage(); !damage.empty()) {
    found->second.repair_guards();
    throw DeviceFault(fmt::format(
        "emulated CUDA device: memory outside every allocation was written (found when the "
        "caching allocator handed the block out again; the last launch was the {}): {}",
        state.last_launch, damage));
  }
  found->second.hand_out(bytes, holder);
}

void check_device_guard_zones() {
  Device& state = device();
  std::lock_guard lock(state.mutex);
  check_guard_zones(state,
                    fmt::format("found on request; the last launch was the {}", state.last_launch));
}

std::size_t device_allocation_count() {
  Device& state = device();
  std::lock_guard lock(state.mutex);
  return state.allocations.size();
}

bool is_device_pointer(const void* pointer) {
  Device& state = device();
  std::lock_guard lock(state.mutex);
  return containing(state, reinterpret_cast<std::uintptr_t>(pointer)) != state.allocations.end();
}

void set_device_count(int count) {
  Device& state = device();
  std::lock_guard lock(state.mutex);
  state.device_count = count;
  state.current_device = 0;
}

void set_driver_missing(bool missing) {
  Device& state = device();
  std::lock_guard lock(state.mutex);
  state.driver_missing = missing;
}

}  // namespace seqtrain::emu

using seqtrain::emu::runtime::record;
namespace emu = seqtrain::emu;

namespace {

bool no_driver() {
  return emu::runtime::driver_is_missing();
}

// The direction a copy really takes, from where its pointers lie; checks them.
cudaError_t check_copy(void* dst, const void* src, std::size_t dst_bytes, std::size_t src_bytes,
                       cudaMemcpyKind kind, const char* call) {
  if (kind == cudaMemcpyDefault)
    kind = emu::is_device_pointer(dst)
               ? (emu::is_device_pointer(src) ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
               : (emu::is_device_pointer(src) ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
  const bool device_dst = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  const bool device_src = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  if (kind != cudaMemcpyHostToHost && kind != cudaMemcpyHostToDevice &&
      kind != cudaMemcpyDeviceToHost && kind != cudaMemcpyDeviceToDevice)
    return cudaErrorInvalidMemcpyDirection;
  const std::string destination = fmt::format("{} destination", call);
  const std::string source = fmt::format("{} source", call);
  if (device_dst)
    emu::runtime::require_device_range(dst, dst_bytes, destination);
  else
    emu::runtime::require_host_range(dst, dst_bytes, destination);
  if (device_src)
    emu::runtime::require_device_range(src, src_bytes, source);
  else
    emu::runtime::require_host_range(src, src_bytes, source);
  return cudaSuccess;
}

}  // namespace

// ---- errors -------------------------------------------------------------------

cudaError_t cudaGetLastError(void) {
  const cudaError_t status = emu::last_error;
  emu::last_error = cudaSuccess;
  return status;
}

cudaError_t cudaPeekAtLastError(void) {
  return emu::last_error;
}

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidMemcpyDirection: return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorInsufficientDriver: return "cudaErrorInsufficientDriver";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    default: return "cudaErrorUnknown";
  }
}

const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    case cudaErrorInsufficientDriver:
      return "CUDA driver version is insufficient for CUDA runtime version";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    default: return "unknown error";
  }
}

// ---- versions and devices ------------------------------------------------------

cudaError_t cudaRuntimeGetVersion(int* runtimeVersion) {
  if (runtimeVersion == nullptr) return record(cudaErrorInvalidValue);
  *runtimeVersion = CUDART_VERSION;
  return cudaSuccess;
}

cudaError_t cudaDriverGetVersion(int* driverVersion) {
  if (driverVersion == nullptr) return record(cudaErrorInvalidValue);
  *driverVersion = no_driver() ? 0 : CUDART_VERSION;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceCount(int* count) {
  if (count == nullptr) return record(cudaErrorInvalidValue);
  if (no_driver()) {
    *count = 0;
    return record(cudaErrorInsufficientDriver);
  }
  auto& state = emu::device();
  std::lock_guard lock(state.mutex);
  *count = state.device_count;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (no_driver()) return record(cudaErrorInsufficientDriver);
  if (prop == nullptr) return record(cudaErrorInvalidValue);
  if (!emu::runtime::device_exists(device)) return record(cudaErrorInvalidDevice);
  *prop = cudaDeviceProp{};
  std::snprintf(prop->name, sizeof(prop->name), "seqtrain emulated device");
  prop->totalGlobalMem = emu::device_memory_capacity();
  prop->sharedMemPerBlock = 48 << 10;
  prop->sharedMemPerBlockOptin = 227 << 10;
  prop->regsPerBlock = 65536;
  prop->warpSize = 32;
  prop->maxThreadsPerBlock = 1024;
  prop->maxThreadsDim[0] = prop->maxThreadsDim[1] = 1024;
  prop->maxThreadsDim[2] = 64;
  prop->maxGridSize[0] = 2147483647;
  prop->maxGridSize[1] = prop->maxGridSize[2] = 65535;
  prop->major = 9;
  prop->minor = 0;
  prop->multiProcessorCount = 132;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
  if (no_driver()) return record(cudaErrorInsufficientDriver);
  if (!emu::runtime::device_exists(device)) return record(cudaErrorInvalidDevice);
  auto& state = emu::device();
  std::lock_guard lock(state.mutex);
  state.current_device = device;
  return cudaSuccess;
}

cudaError_t cudaGetDevice(int* device) {
  if (no_driver()) return record(cudaErrorInsufficientDriver);
  if (device == nullptr) return record(cudaErrorInvalidValue);
  auto& state = emu::device();
  std::lock_guard lock(state.mutex);
  *device = state.current_device;
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize(void) {
  return no_driver() ? record(cudaErrorInsufficientDriver) : cudaSuccess;
}

// ---- memory ------------------------------------------------------------------

cudaError_t cudaMalloc(void** devPtr, size_t size) {
  if (devPtr == nullptr) return record(cudaErrorInvalidValue);
  if (no_driver()) return record(cudaErrorInsufficientDriver);
  *devPtr = nullptr;
  if (size == 0) return cudaSuccess;
  // From the first allocation on, every kernel launch checks the guard zones.
  static const bool guards_checked_after_launches =
      (emu::set_launch_observer(&emu::check_guard_zones_after_launch), true);
  static_cast<void>(guards_checked_after_launches);
  auto& state = emu::device();
  std::lock_guard lock(state.mutex);
  if (size > state.capacity || state.in_use > state.capacity - size)
    return record(cudaErrorMemoryAllocation);
  std::optional<emu::DeviceAllocation> allocation;
  try {
    allocation.emplace(size);
  } catch (const std::bad_alloc&) {
    return record(cudaErrorMemoryAllocation);
  }
  std::byte* user = allocation->user();
  state.allocations.emplace(reinterpret_cast<std::uintptr_t>(user), std::move(*allocation));
  state.in_use += size;
  *devPtr = user;
  return cudaSuccess;
}

cudaError_t cudaFree(void* devPtr) {
  if (devPtr == nullptr) return cudaSuccess;
  auto& state = emu::device();
  std::lock_guard lock(state.mutex);
  auto found = state.allocations.find(reinterpret_cast<std::uintptr_t>(devPtr));
  if (found == state.allocations.end()) return record(cudaErrorInvalidValue);
  // Freed either way, then reported: a write outside the allocation since the
  // last launch's check (host code writing through a device pointer).
  const std::string damage = found->second.guard_damage();
  state.in_use -= found->second.size();
  state.allocations.erase(found);
  if (!damage.empty())
    throw emu::DeviceFault(fmt::format(
        "emulated CUDA device: memory outside an allocation was written (found at cudaFree; the "
        "last launch was the {}): {}",
        state.last_launch, damage));
  return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t* free, size_t* total) {
  if (no_driver()) return record(cudaErrorInsufficientDriver);
  if (free == nullptr || total == nullptr) return record(cudaErrorInvalidValue);
  auto& state = emu::device();
  std::lock_guard lock(state.mutex);
  *total = state.capacity;
  *free = state.capacity > state.in_use ? state.capacity - state.in_use : 0;
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t count, cudaMemcpyKind kind) {
  if (const cudaError_t status = check_copy(dst, src, count, count, kind, "cudaMemcpy");
      status != cudaSuccess)
    return record(status);
  if (count > 0) std::memmove(dst, src, count);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, cudaMemcpyKind kind,
                            cudaStream_t stream) {
  if (!emu::runtime::stream_is_valid(stream)) return record(cudaErrorInvalidResourceHandle);
  if (const cudaError_t status = check_copy(dst, src, count, count, kind, "cudaMemcpyAsync");
      status != cudaSuccess)
    return record(status);
  if (count > 0) std::memmove(dst, src, count);
  return cudaSuccess;
}

cudaError_t cudaMemcpy2DAsync(void* dst, size_t dpitch, const void* src, size_t spitch,
                              size_t width, size_t height, cudaMemcpyKind kind,
                              cudaStream_t stream) {
  if (!emu::runtime::stream_is_valid(stream)) return record(cudaErrorInvalidResourceHandle);
  if (width > dpitch || width > spitch) return record(cudaErrorInvalidValue);
  if (width == 0 || height == 0) return cudaSuccess;
  const std::size_t dst_bytes = (height - 1) * dpitch + width;
  const std::size_t src_bytes = (height - 1) * spitch + width;
  if (const cudaError_t status =
          check_copy(dst, src, dst_bytes, src_bytes, kind, "cudaMemcpy2DAsync");
      status != cudaSuccess)
    return record(status);
  for (std::size_t row = 0; row < height; ++row)
    std::memmove(static_cast<char*>(dst) + row * dpitch,
                 static_cast<const char*>(src) + row * spitch, width);
  return cudaSuccess;
}

cudaError_t cudaMemset(void* devPtr, int value, size_t count) {
  emu::runtime::require_device_range(devPtr, count, "cudaMemset target");
  if (count > 0) std::memset(devPtr, value, count);
  return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void* devPtr, int value, size_t count, cudaStream_t stream) {
  if (!emu::runtime::stream_is_valid(stream)) return record(cudaErrorInvalidResourceHandle);
  emu::runtime::require_device_range(devPtr, count, "cudaMemsetAsync target");
  if (count > 0) std::memset(devPtr, value, count);
  return cudaSuccess;
}

// ---- streams -----------------------------------------------------------------

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* pStream, unsigned int flags) {
  if (pStream == nullptr) return record(cudaErrorInvalidValue);
  if (no_driver()) return record(cudaErrorInsufficientDriver);
  auto* stream = new CUstream_st{flags};
  auto& state = emu::device();
  std::lock_guard lock(state.mutex);
  state.streams.insert(stream);
  *pStream = stream;
  return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t* pStream) {
  return cudaStreamCreateWithFlags(pStream, cudaStreamDefault);
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  auto& state = emu::device();
  std::lock_guard lock(state.mutex);
  if (stream == nullptr || state.streams.erase(stream) == 0)
    return record(cudaErrorInvalidResourceHandle);
  delete stream;
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  // Work ran when it was issued: nothing to wait for.
  return emu::runtime::stream_is_valid(stream) ? cudaSuccess
                                               : record(cudaErrorInvalidResourceHandle);
}

// ---- events ------------------------------------------------------------------
// Work runs when issued, so an event is complete once recorded, unless it was
// recorded behind a stalled collective (stall_stream) that is still stalled.

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned int) {
  if (event == nullptr) return record(cudaErrorInvalidValue);
  if (no_driver()) return record(cudaErrorInsufficientDriver);
  auto& state = emu::device();
  std::lock_guard lock(state.mutex);
  *event = new CUevent_st{};
  state.events.insert(*event);
  return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t* event) {
  return cudaEventCreateWithFlags(event, cudaEventDefault);
}

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  auto& state = emu::device();
  std::lock_guard lock(state.mutex);
  if (event == nullptr || state.events.erase(event) == 0)
    return record(cudaErrorInvalidResourceHandle);
  delete event;
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  auto& state = emu::device();
  std::lock_guard lock(state.mutex);
  if (!state.events.contains(event) || (stream != nullptr && !state.streams.contains(stream)))
    return record(cudaErrorInvalidResourceHandle);
  event->stream = stream;
  event->pending = stream != nullptr && stream->stalled;
  event->releases = stream != nullptr ? stream->releases : 0;
  return cudaSuccess;
}

cudaError_t cudaEventQuery(cudaEvent_t event) {
  auto& state = emu::device();
  std::lock_guard lock(state.mutex);
  if (!state.events.contains(event)) return record(cudaErrorInvalidResourceHandle);
  const bool released = event->stream == nullptr || !state.streams.contains(event->stream) ||
                        event->stream->releases != event->releases;
  return event->pending && !released ? cudaErrorNotReady : cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  // A stalled event would never complete: the emulation says so instead of hanging.
  const cudaError_t status = cudaEventQuery(event);
  return status == cudaErrorNotReady ? record(cudaErrorLaunchTimeout) : status;
}

cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned int) {
  // In order and at once: the event's work has run (or, stalled, never will).
  auto& state = emu::device();
  std::lock_guard lock(state.mutex);
  if (!state.events.contains(event) || (stream != nullptr && !state.streams.contains(stream)))
    return record(cudaErrorInvalidResourceHandle);
  return cudaSuccess;
}
