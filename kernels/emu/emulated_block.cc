#include "kernels/emu/emulated_block.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace seqtrain::emu {
namespace {

static_assert(__STDCPP_DEFAULT_NEW_ALIGNMENT__ >= 16,
              "dynamic shared memory must be 16-byte aligned");

constexpr unsigned kFullMask = 0xffffffffu;

bool same_site(const SyncSite& a, const SyncSite& b) {
  return a.line == b.line && std::strcmp(a.file, b.file) == 0 &&
         std::strcmp(a.operation, b.operation) == 0;
}

std::string site_text(const SyncSite& site) {
  const char* slash = std::strrchr(site.file, '/');
  return fmt::format("{} at {}:{}", site.operation, slash != nullptr ? slash + 1 : site.file,
                     site.line);
}

std::string thread_range(unsigned first, unsigned last) {
  return first == last ? fmt::format("thread {}", first)
                       : fmt::format("threads {}-{}", first, last);
}

}  // namespace

void EmulatedBlock::begin(unsigned thread_count, std::size_t dynamic_shared_bytes) {
  const std::lock_guard lock(mutex_);
  thread_count_ = thread_count;
  live_ = thread_count;
  blocked_ = 0;
  finished_ = 0;
  state_.assign(thread_count, ThreadState::running);
  waiting_at_.assign(thread_count, SyncSite{});
  barrier_arrived_ = 0;
  barrier_waiters_ = 0;
  for (unsigned w = 0; w < kMaxWarps; ++w) {
    Warp& warp = warps_[w];
    const unsigned first = w * kWarpSize;
    warp.lanes = first < thread_count ? std::min(kWarpSize, thread_count - first) : 0;
    warp.arrived = 0;
    warp.waiters = 0;
    warp.exited = 0;
    warp.buffer = 0;
  }
  aborted_ = false;
  fault_.clear();
  // 0xFF bytes are NaN as float, double, half and bf16: reading shared memory
  // the block has not written shows up in its results.
  dynamic_shared_.assign(dynamic_shared_bytes, std::byte{0xFF});
}

void EmulatedBlock::fault_locked(std::string message) {
  if (!aborted_) {
    aborted_ = true;
    fault_ = std::move(message);
  }
  barrier_released_.notify_all();
  for (Warp& warp : warps_) warp.released.notify_all();
}

void EmulatedBlock::throw_if_aborted_locked() const {
  if (aborted_) throw BlockAborted{};
}

void EmulatedBlock::block_locked(unsigned thread, const SyncSite& site) {
  state_[thread] = ThreadState::waiting;
  waiting_at_[thread] = site;
  ++blocked_;
  check_deadlock_locked();
  throw_if_aborted_locked();
}

void EmulatedBlock::check_deadlock_locked() {
  if (live_ > 0 && blocked_ == live_)
    fault_locked(fmt::format(
        "deadlock: every live thread of the block waits and none of their barriers or warp "
        "operations can complete ({})",
        describe_threads_locked()));
}

void EmulatedBlock::release_barrier_locked() {
  blocked_ -= barrier_waiters_;
  barrier_waiters_ = 0;
  barrier_arrived_ = 0;
  ++barrier_generation_;
  barrier_released_.notify_all();
}

void EmulatedBlock::sync_threads(unsigned thread, const SyncSite& site) {
  std::unique_lock lock(mutex_);
  throw_if_aborted_locked();
  if (barrier_arrived_ == 0) {
    barrier_site_ = site;
    barrier_first_thread_ = thread;
  } else if (!same_site(site, barrier_site_)) {
    fault_locked(fmt::format(
        "threads reach __syncthreads at different places: thread {} waits at line {}, thread {} "
        "arrives at line {} (a barrier must be reached by all threads at the same place)",
        barrier_first_thread_, barrier_site_.line, thread, site.line));
    throw BlockAborted{};
  }
  ++barrier_arrived_;
  if (barrier_arrived_ == live_) {
    release_barrier_locked();
    return;
  }
  const std::uint64_t generation = barrier_generation_;
  ++barrier_waiters_;
  block_locked(thread, site);
  barrier_released_.wait(lock, [&] { return aborted_ || barrier_generation_ != generation; });
  if (barrier_generation_ == generation) throw BlockAborted{};
  state_[thread] = ThreadState::running;
}

const std::uint64_t* EmulatedBlock::warp_exchange(unsigned thread, unsigned mask,
                                                  std::uint64_t value, const SyncSite& site) {
  std::unique_lock lock(mutex_);
  throw_if_aborted_locked();
  const unsigned warp_index = thread / kWarpSize, lane = thread % kWarpSize;
  Warp& warp = warps_[warp_index];
  if (warp.lanes != kWarpSize || mask != kFullMask) {
    fault_locked(fmt::format(
        "thread {}: {} with mask {:#010x} in warp {} of {} threads: only full-mask operations "
        "in full warps are emulated (block sizes must be multiples of 32)",
        thread, site_text(site), mask, warp_index, warp.lanes));
    throw BlockAborted{};
  }
  if (warp.exited > 0) {
    fault_locked(
        fmt::format("thread {}: {} after {} lane(s) of warp {} exited: a full-mask warp "
                    "operation needs all 32 lanes",
                    thread, site_text(site), warp.exited, warp_index));
    throw BlockAborted{};
  }
  if (warp.arrived == 0) {
    warp.site = site;
    warp.first_thread = thread;
  } else if (!same_site(site, warp.site)) {
    fault_locked(fmt::format(
        "divergent warp operation in warp {}: thread {} waits in {}, thread {} arrives in {}",
        warp_index, warp.first_thread, site_text(warp.site), thread, site_text(site)));
    throw BlockAborted{};
  }
  std::array<std::uint64_t, kWarpSize>& slots = warp.slots[warp.buffer];
  slots[lane] = value;
  if (++warp.arrived == kWarpSize) {
    blocked_ -= warp.waiters;
    warp.waiters = 0;
    warp.arrived = 0;
    warp.buffer ^= 1u;
    ++warp.generation;
    warp.released.notify_all();
    return slots.data();
  }
  const std::uint64_t generation = warp.generation;
  ++warp.waiters;
  block_locked(thread, site);
  warp.released.wait(lock, [&] { return aborted_ || warp.generation != generation; });
  if (warp.generation == generation) throw BlockAborted{};
  state_[thread] = ThreadState::running;
  return slots.data();
}

void EmulatedBlock::thread_exited(unsigned thread, const std::string* failure) {
  const std::lock_guard lock(mutex_);
  if (failure != nullptr) fault_locked(fmt::format("thread {} threw: {}", thread, *failure));
  state_[thread] = ThreadState::exited;
  --live_;
  ++finished_;
  if (!aborted_) {
    Warp& warp = warps_[thread / kWarpSize];
    ++warp.exited;
    if (warp.arrived > 0)
      fault_locked(fmt::format("thread {} exited while {} lane(s) of its warp wait in {}", thread,
                               warp.arrived, site_text(warp.site)));
    else if (barrier_arrived_ > 0 && barrier_arrived_ == live_)
      release_barrier_locked();
    if (!aborted_) check_deadlock_locked();
  }
  if (finished_ == thread_count_) done_.notify_all();
}

std::string EmulatedBlock::wait_until_done(std::chrono::milliseconds watchdog,
                                           const std::string& block_name) {
  std::unique_lock lock(mutex_);
  if (!done_.wait_for(lock, watchdog, [&] { return finished_ == thread_count_; })) {
    std::fprintf(stderr,
                 "seqtrain kernel emulation watchdog: %s has not finished after %lld ms; a "
                 "thread that never reaches a barrier cannot be stopped. Threads: %s\n",
                 block_name.c_str(), static_cast<long long>(watchdog.count()),
                 describe_threads_locked().c_str());
    std::fflush(stderr);
    std::abort();
  }
  return aborted_ ? fault_ : std::string();
}

std::string EmulatedBlock::describe_threads_locked() const {
  auto describe = [&](unsigned t) {
    switch (state_[t]) {
      case ThreadState::running: return std::string("running");
      case ThreadState::exited: return std::string("exited");
      case ThreadState::waiting: break;
    }
    return "waiting in " + site_text(waiting_at_[t]);
  };
  std::string text;
  unsigned first = 0;
  std::string current = thread_count_ > 0 ? describe(0) : std::string();
  for (unsigned t = 1; t <= thread_count_; ++t) {
    std::string next = t < thread_count_ ? describe(t) : std::string();
    if (t == thread_count_ || next != current) {
      if (!text.empty()) text += "; ";
      text += thread_range(first, t - 1) + " " + current;
      first = t;
      current = std::move(next);
    }
  }
  return text;
}

}  // namespace seqtrain::emu
