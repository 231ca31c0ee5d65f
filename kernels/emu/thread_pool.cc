#include "kernels/emu/thread_pool.h"

namespace seqtrain::emu {

ThreadPool::~ThreadPool() {
  stopping_.store(true);
  for (auto& worker : workers_) worker->wake.release();
  for (auto& worker : workers_) worker->thread.join();
}

void ThreadPool::start(unsigned count, const std::function<void(unsigned)>& task) {
  while (workers_.size() < count) {
    auto worker = std::make_unique<Worker>();
    const auto index = static_cast<unsigned>(workers_.size());
    Worker* raw = worker.get();
    worker->thread = std::thread([this, raw, index] { work(*raw, index); });
    workers_.push_back(std::move(worker));
  }
  task_ = &task;
  running_.store(count);
  for (unsigned i = 0; i < count; ++i) workers_[i]->wake.release();
}

void ThreadPool::wait_idle() {
  for (unsigned running = running_.load(); running != 0; running = running_.load())
    running_.wait(running);
}

void ThreadPool::work(Worker& self, unsigned index) {
  for (;;) {
    self.wake.acquire();
    if (stopping_.load()) return;
    (*task_)(index);
    if (running_.fetch_sub(1) == 1) running_.notify_all();
  }
}

}  // namespace seqtrain::emu
