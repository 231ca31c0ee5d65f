// launch_grid and the device-side services of emulator.h: blocks in order, a
// block's threads on the persistent pool, faults turned into KernelFault.
#include <fmt/format.h>

#include <atomic>
#include <exception>
#include <mutex>
#include <string>
#include <string_view>

#include "kernels/emu/emulated_block.h"
#include "kernels/emu/emulator.h"
#include "kernels/emu/thread_context.h"
#include "kernels/emu/thread_pool.h"

namespace seqtrain::emu {
namespace {

constexpr std::size_t kMaxDynamicSharedBytes = 48 * 1024;  // without cudaFuncSetAttribute

std::atomic<std::int64_t> watchdog_milliseconds{60'000};
std::atomic<LaunchObserver> launch_observer{nullptr};

// Constructed in this order so the pool (and its workers) goes first at exit.
EmulatedBlock& emulated_block() {
  static EmulatedBlock block;
  return block;
}
ThreadPool& thread_pool() {
  static ThreadPool pool;
  return pool;
}
std::mutex& launch_mutex() {
  static std::mutex mutex;
  return mutex;
}

std::string dims_text(const dim3& d) {
  return fmt::format("({}, {}, {})", d.x, d.y, d.z);
}

// What CUDA would refuse with cudaErrorInvalidConfiguration (or
// cudaErrorInvalidValue for shared memory), or empty.
std::string configuration_problem(const LaunchGeometry& g) {
  const std::uint64_t threads = std::uint64_t{g.block.x} * g.block.y * g.block.z;
  if (g.grid.x == 0 || g.grid.y == 0 || g.grid.z == 0) return "the grid is empty";
  if (g.block.x == 0 || g.block.y == 0 || g.block.z == 0) return "the block is empty";
  if (g.grid.x > 0x7fffffffu || g.grid.y > 65535 || g.grid.z > 65535)
    return "the grid exceeds (2^31 - 1, 65535, 65535)";
  if (g.block.x > 1024 || g.block.y > 1024 || g.block.z > 64)
    return "the block exceeds (1024, 1024, 64)";
  if (threads > EmulatedBlock::kMaxThreads)
    return fmt::format("{} threads per block exceed 1024", threads);
  if (g.dynamic_shared_bytes > kMaxDynamicSharedBytes)
    return fmt::format(
        "{} bytes of dynamic shared memory exceed {} (a kernel that needs more must "
        "opt in with cudaFuncSetAttribute, which the emulation does not model)",
        g.dynamic_shared_bytes, kMaxDynamicSharedBytes);
  return {};
}

EmulatedBlock& running_block(const char* operation) {
  if (current_block == nullptr)
    throw KernelFault(fmt::format("{} called outside an emulated kernel", operation));
  return *current_block;
}

SyncSite site_of(const char* operation, const std::source_location& where) {
  return {operation, where.file_name(), static_cast<unsigned>(where.line())};
}

}  // namespace

void set_watchdog_timeout(std::chrono::milliseconds timeout) {
  watchdog_milliseconds.store(timeout.count());
}

void set_launch_observer(LaunchObserver observer) {
  launch_observer.store(observer);
}

std::string describe(const LaunchSite& launch) {
  return fmt::format("kernel {} launched at {}:{}", launch.kernel, launch.file, launch.line);
}

std::string kernel_of_launch_arguments(const char* arguments) {
  const std::string_view text(arguments);
  int depth = 0;
  std::size_t end = 0;
  for (; end < text.size(); ++end) {
    const char c = text[end];
    if (c == '<' || c == '(' || c == '[' || c == '{') ++depth;
    if (c == '>' || c == ')' || c == ']' || c == '}') --depth;
    if (c == ',' && depth == 0) break;
  }
  const std::string_view kernel = text.substr(0, end);
  const std::size_t first = kernel.find_first_not_of(" \t\n");
  if (first == std::string_view::npos) return {};
  return std::string(kernel.substr(first, kernel.find_last_not_of(" \t\n") - first + 1));
}

void launch_grid(const LaunchGeometry& geometry, const LaunchSite& launch,
                 const std::function<void()>& body) {
  const char* const file = launch.file;
  const int line = launch.line;
  if (const std::string problem = configuration_problem(geometry); !problem.empty())
    throw KernelFault(
        fmt::format("invalid launch configuration at {}:{}: grid {}, block {}, {} "
                    "bytes of dynamic shared memory: {}",
                    file, line, dims_text(geometry.grid), dims_text(geometry.block),
                    geometry.dynamic_shared_bytes, problem));
  if (current_block != nullptr)
    throw KernelFault(
        fmt::format("kernel launch at {}:{} from inside a kernel: dynamic "
                    "parallelism is not emulated",
                    file, line));
  const std::lock_guard one_launch_at_a_time(launch_mutex());
  EmulatedBlock& block = emulated_block();
  ThreadPool& pool = thread_pool();
  const dim3 grid = geometry.grid, block_dim = geometry.block;
  const unsigned thread_count = block_dim.x * block_dim.y * block_dim.z;
  uint3 block_index{0, 0, 0};  // published to the workers by pool.start

  const std::function<void(unsigned)> run_thread = [&](unsigned thread) {
    threadIdx = uint3{thread % block_dim.x, thread / block_dim.x % block_dim.y,
                      thread / (block_dim.x * block_dim.y)};
    blockIdx = block_index;
    blockDim = block_dim;
    gridDim = grid;
    current_block = &block;
    current_thread = thread;
    std::string failure;
    bool failed = false;
    try {
      body();
    } catch (const BlockAborted&) {
    } catch (const std::exception& error) {
      failed = true;
      failure = error.what();
    } catch (...) {
      failed = true;
      failure = "an exception that is not a std::exception";
    }
    current_block = nullptr;
    block.thread_exited(thread, failed ? &failure : nullptr);
  };

  const auto watchdog = std::chrono::milliseconds(watchdog_milliseconds.load());
  const LaunchObserver observer = launch_observer.load();
  for (unsigned z = 0; z < grid.z; ++z)
    for (unsigned y = 0; y < grid.y; ++y)
      for (unsigned x = 0; x < grid.x; ++x) {
        block_index = uint3{x, y, z};
        block.begin(thread_count, geometry.dynamic_shared_bytes);
        pool.start(thread_count, run_thread);
        const std::string name =
            fmt::format("block ({}, {}, {}) of the {}", x, y, z, describe(launch));
        const std::string fault = block.wait_until_done(watchdog, name);
        pool.wait_idle();
        if (!fault.empty()) {
          // The fault is the report; the observer still sees the launch (and
          // repairs what it finds), so this kernel's damage is not blamed on
          // the next one.
          try {
            if (observer != nullptr) observer(launch);
          } catch (const std::exception&) {
          }
          throw KernelFault(fmt::format("{}: {}", name, fault));
        }
      }
  if (observer != nullptr) observer(launch);
}

void sync_threads(const std::source_location& where) {
  running_block("__syncthreads").sync_threads(current_thread, site_of("__syncthreads", where));
}

const std::uint64_t* warp_exchange(unsigned mask, std::uint64_t value, const char* operation,
                                   const std::source_location& where) {
  return running_block(operation).warp_exchange(current_thread, mask, value,
                                                site_of(operation, where));
}

void* dynamic_shared_memory() {
  return running_block("dynamic shared memory").dynamic_shared();
}

std::size_t dynamic_shared_memory_bytes() {
  return running_block("dynamic shared memory").dynamic_shared_bytes();
}

}  // namespace seqtrain::emu
