#include "dist/watched_communicator.h"

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

namespace seqtrain {
namespace {

using Clock = std::chrono::steady_clock;

// One thread that sleeps until the armed collective's deadline; disarming
// (the collective returned) or destruction wakes it.
class Watchdog {
 public:
  Watchdog(double timeout_seconds, int rank, int world_size)
      : timeout_(std::chrono::duration_cast<Clock::duration>(
            std::chrono::duration<double>(timeout_seconds))),
        timeout_seconds_(timeout_seconds),
        rank_(rank),
        world_size_(world_size),
        thread_([this] { watch(); }) {}

  ~Watchdog() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_one();
    thread_.join();
  }

  void arm(const char* collective) {
    {
      std::lock_guard lock(mutex_);
      collective_ = collective;
      deadline_ = Clock::now() + timeout_;
    }
    changed_.notify_one();
  }

  void disarm() {
    std::lock_guard lock(mutex_);
    collective_ = nullptr;
  }

 private:
  void watch() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      if (collective_ == nullptr) {
        changed_.wait(lock);
        continue;
      }
      if (Clock::now() < deadline_) {
        changed_.wait_until(lock, deadline_);
        continue;
      }
      std::fprintf(stderr,
                   "seqtrain: error: rank %d of %d waited %.0f s in %s for the other ranks "
                   "(distributed.timeout_s): one of them is hung or stopped; ending the job\n",
                   rank_, world_size_, timeout_seconds_, collective_);
      std::fflush(stderr);
      std::_Exit(124);  // MPI may be called from the main thread only; mpirun ends the rest
    }
  }

  const Clock::duration timeout_;
  const double timeout_seconds_;
  const int rank_, world_size_;
  std::mutex mutex_;
  std::condition_variable changed_;
  const char* collective_ = nullptr;  // armed while not null
  Clock::time_point deadline_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts once the rest is initialised
};

// Arms the watchdog for one collective's duration.
class Watched {
 public:
  Watched(Watchdog& watchdog, const char* collective) : watchdog_(watchdog) {
    watchdog_.arm(collective);
  }
  ~Watched() { watchdog_.disarm(); }
  Watched(const Watched&) = delete;
  Watched& operator=(const Watched&) = delete;

 private:
  Watchdog& watchdog_;
};

class WatchedPendingReduction final : public PendingReduction {
 public:
  WatchedPendingReduction(std::unique_ptr<PendingReduction> inner, Watchdog& watchdog)
      : inner_(std::move(inner)), watchdog_(watchdog) {}
  void wait() override {
    Watched watched(watchdog_, "an all-reduce of gradients");
    inner_->wait();
  }

 private:
  std::unique_ptr<PendingReduction> inner_;
  Watchdog& watchdog_;
};

class WatchedCommunicator final : public Communicator {
 public:
  WatchedCommunicator(Communicator& inner, double timeout_seconds)
      : inner_(inner), watchdog_(timeout_seconds, inner.rank(), inner.world_size()) {}

  int rank() const override { return inner_.rank(); }
  int world_size() const override { return inner_.world_size(); }
  int local_rank() const override { return inner_.local_rank(); }
  std::string describe() const override { return inner_.describe(); }
  Device memory() const override { return inner_.memory(); }

  void all_reduce_sum(std::span<float> values) override {
    Watched watched(watchdog_, "an all-reduce");
    inner_.all_reduce_sum(values);
  }
  void all_reduce_sum(std::span<double> values) override {
    Watched watched(watchdog_, "an all-reduce");
    inner_.all_reduce_sum(values);
  }
  std::unique_ptr<PendingReduction> start_all_reduce_sum(std::span<float> values) override {
    Watched watched(watchdog_, "starting an all-reduce");
    return std::make_unique<WatchedPendingReduction>(inner_.start_all_reduce_sum(values),
                                                     watchdog_);
  }
  std::unique_ptr<PendingReduction> start_all_reduce_sum_list(
      std::span<const std::span<float>> buffers) override {
    Watched watched(watchdog_, "starting an all-reduce");
    return std::make_unique<WatchedPendingReduction>(inner_.start_all_reduce_sum_list(buffers),
                                                     watchdog_);
  }
  void broadcast(std::span<std::byte> bytes, int root) override {
    Watched watched(watchdog_, "a broadcast");
    inner_.broadcast(bytes, root);
  }
  void all_gather(std::span<const float> mine, std::span<float> all) override {
    Watched watched(watchdog_, "an all-gather");
    inner_.all_gather(mine, all);
  }
  void reduce_scatter_sum(std::span<const float> all, std::span<float> mine) override {
    Watched watched(watchdog_, "a reduce-scatter");
    inner_.reduce_scatter_sum(all, mine);
  }
  void barrier() override {
    Watched watched(watchdog_, "a barrier");
    inner_.barrier();
  }
  void abort(int exit_code) override { inner_.abort(exit_code); }

 private:
  Communicator& inner_;
  Watchdog watchdog_;
};

}  // namespace

std::unique_ptr<Communicator> watch_collectives(Communicator& inner, double timeout_seconds) {
  return std::make_unique<WatchedCommunicator>(inner, timeout_seconds);
}

}  // namespace seqtrain
