// The persistent threads that run an emulated block's threads: worker i runs
// thread i of every block, so a launch of many blocks creates no threads after
// the first. Workers are created on demand up to the largest block seen
// (at most 1024) and joined at process exit.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <semaphore>
#include <thread>
#include <vector>

namespace seqtrain::emu {

class ThreadPool {
 public:
  ThreadPool() = default;
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  ~ThreadPool();

  // Runs task(i) on workers i = 0 .. count - 1 and returns at once; task must
  // live until wait_idle() returns.
  void start(unsigned count, const std::function<void(unsigned)>& task);
  // Waits until every worker started by the last start() has returned from its task.
  void wait_idle();

 private:
  struct Worker {
    std::binary_semaphore wake{0};
    std::thread thread;
  };
  void work(Worker& self, unsigned index);

  std::vector<std::unique_ptr<Worker>> workers_;
  const std::function<void(unsigned)>* task_ = nullptr;  // published by wake.release()
  std::atomic<unsigned> running_{0};
  std::atomic<bool> stopping_{false};
};

}  // namespace seqtrain::emu
