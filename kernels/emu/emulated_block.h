// The state of the one block the emulation runs at a time: its barrier, the
// exchange buffers of its warps, which threads have exited, its dynamic shared
// memory, and the bookkeeping that turns kernel bugs into reports instead of
// hangs.
//
// Synchronisation model. One mutex guards everything; a thread that must wait
// sleeps on a condition variable (the block's barrier or its warp's). A barrier
// completes when every live thread has arrived: an exited thread no longer
// counts (arrive-and-drop, as on sm_70 and newer). A warp operation completes
// when all 32 lanes of the warp have arrived; its contributions go to one of two
// buffers, alternating per operation, so a lane may read the result of
// operation k after operation k+1 has begun: buffer k is only rewritten by
// operation k+2, which cannot complete before every lane has left k+1.
//
// Bug detection, all under the mutex:
//   - threads arriving at __syncthreads from different source lines;
//   - warp operations arriving from different source lines, with a mask other
//     than the whole warp, in a warp of fewer than 32 threads, or after a lane
//     exited; a lane exiting while the rest of its warp waits for it;
//   - deadlock: `blocked_` counts threads waiting on operations that have not
//     completed (a completing thread subtracts the waiters it releases), so when
//     it equals the live thread count nobody can make progress;
//   - a block that does not finish within the watchdog timeout.
// The first fault wins: every waiter is woken and unwinds with BlockAborted,
// threads still running unwind at their next barrier or warp operation.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace seqtrain::emu {

// Where a thread is: the operation and its source line.
struct SyncSite {
  const char* operation = "";
  const char* file = "";
  unsigned line = 0;
};

// Thrown out of a thread's barrier or warp operation when its block is aborted;
// the worker running the thread catches it.
struct BlockAborted {};

class EmulatedBlock {
 public:
  static constexpr unsigned kWarpSize = 32;
  static constexpr unsigned kMaxThreads = 1024;
  static constexpr unsigned kMaxWarps = kMaxThreads / kWarpSize;

  // Starts a block of thread_count threads, every one of them running.
  void begin(unsigned thread_count, std::size_t dynamic_shared_bytes);

  void sync_threads(unsigned thread, const SyncSite& site);
  const std::uint64_t* warp_exchange(unsigned thread, unsigned mask, std::uint64_t value,
                                     const SyncSite& site);
  // The thread left the kernel: returned, unwound after a fault, or threw
  // (failure: what it threw).
  void thread_exited(unsigned thread, const std::string* failure);

  // Waits until every thread has exited and returns the first fault's message
  // (empty when the block ran cleanly). When the block has not finished after
  // watchdog, prints where each thread is (naming the block by `block_name`) and
  // aborts the process: a thread that runs forever cannot be unwound.
  std::string wait_until_done(std::chrono::milliseconds watchdog, const std::string& block_name);

  void* dynamic_shared() { return dynamic_shared_.data(); }
  std::size_t dynamic_shared_bytes() const { return dynamic_shared_.size(); }

 private:
  enum class ThreadState : std::uint8_t { running, waiting, exited };

  struct Warp {
    unsigned lanes = 0;    // threads of the block in this warp
    unsigned arrived = 0;  // lanes in the current operation
    unsigned waiters = 0;  // of those, lanes asleep
    unsigned exited = 0;
    std::uint64_t generation = 0;  // completed operations
    unsigned buffer = 0;           // exchange buffer of the current operation
    SyncSite site;                 // of the current operation's first lane
    unsigned first_thread = 0;
    std::array<std::array<std::uint64_t, kWarpSize>, 2> slots{};
    std::condition_variable released;
  };

  void fault_locked(std::string message);
  void throw_if_aborted_locked() const;
  // The thread is about to sleep on an operation that has not completed.
  void block_locked(unsigned thread, const SyncSite& site);
  void release_barrier_locked();
  void check_deadlock_locked();
  std::string describe_threads_locked() const;

  std::mutex mutex_;
  unsigned thread_count_ = 0;
  unsigned live_ = 0;      // threads that have not exited
  unsigned blocked_ = 0;   // threads asleep on operations that have not completed
  unsigned finished_ = 0;  // threads that have exited
  std::vector<ThreadState> state_;
  std::vector<SyncSite> waiting_at_;

  unsigned barrier_arrived_ = 0;
  unsigned barrier_waiters_ = 0;
  std::uint64_t barrier_generation_ = 0;
  SyncSite barrier_site_;
  unsigned barrier_first_thread_ = 0;
  std::condition_variable barrier_released_;

  std::array<Warp, kMaxWarps> warps_;

  bool aborted_ = false;
  std::string fault_;
  std::condition_variable done_;

  std::vector<std::byte> dynamic_shared_;
};

}  // namespace seqtrain::emu
