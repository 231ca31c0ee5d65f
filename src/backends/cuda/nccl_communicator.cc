#include "backends/cuda/nccl_communicator.h"

#include <fmt/format.h>

#include "backends/cuda/cuda_backend.h"
#include "seqtrain/error.h"

#if SEQTRAIN_WITH_NCCL
#include <nccl.h>

#include <chrono>
#include <functional>
#include <thread>

#include "kernels/cuda_check.h"
#endif

namespace seqtrain {

#if !SEQTRAIN_WITH_NCCL

std::unique_ptr<Communicator> make_nccl_communicator(CudaBackend&, Communicator& host, double) {
  throw DeviceError(fmt::format(
      "rank {} of {}: data parallel on --device cuda needs NCCL, and this build has none "
      "(install NCCL 2 beside the CUDA toolkit and reconfigure); use --device cpu",
      host.rank(), host.world_size()));
}

std::string describe_nccl_library() {
  return "not built (NCCL was not found beside the CUDA toolkit when seqtrain was configured)";
}

#else

namespace {

void check_nccl(ncclResult_t status, const char* call, const char* file, int line) {
  if (status != ncclSuccess)
    throw DeviceError(fmt::format("NCCL error at {}:{}: {} returned {} ({})", file, line, call,
                                  static_cast<int>(status), ncclGetErrorString(status)));
}

#define NCCL_CHECK(call) check_nccl((call), #call, __FILE__, __LINE__)

using Clock = std::chrono::steady_clock;

class NcclCommunicator;

// One issued collective: wait() returns when its results are on the device.
class NcclPending final : public PendingReduction {
 public:
  NcclPending(NcclCommunicator& owner, cudaEvent_t done, std::string collective)
      : owner_(owner), done_(done), collective_(std::move(collective)) {}
  ~NcclPending() override;
  void wait() override;

 private:
  NcclCommunicator& owner_;
  cudaEvent_t done_;
  std::string collective_;
  bool waited_ = false;
};

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(CudaBackend& backend, Communicator& host, double timeout_seconds)
      : host_(host),
        compute_stream_(backend.stream()),
        timeout_seconds_(timeout_seconds),
        rank_(host.rank()),
        size_(host.world_size()) {
    ncclUniqueId id{};
    if (rank_ == 0) NCCL_CHECK(ncclGetUniqueId(&id));
    host.broadcast(std::as_writable_bytes(std::span<ncclUniqueId>(&id, 1)), 0);
    CUDA_CHECK(cudaSetDevice(backend.device_index()));
    NCCL_CHECK(ncclCommInitRank(&comm_, size_, id, rank_));
    CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    int version = 0;
    NCCL_CHECK(ncclGetVersion(&version));
    description_ = fmt::format("NCCL {}.{}.{}, {} ranks, device {}", version / 10000,
                               version % 10000 / 100, version % 100, size_, backend.device_index());
  }

  ~NcclCommunicator() override {
    if (stream_ != nullptr) {
      static_cast<void>(cudaStreamSynchronize(stream_));
      static_cast<void>(cudaStreamDestroy(stream_));
    }
    if (comm_ != nullptr) static_cast<void>(ncclCommDestroy(comm_));
    static_cast<void>(cudaGetLastError());
  }

  int rank() const override { return rank_; }
  int world_size() const override { return size_; }
  int local_rank() const override { return host_.local_rank(); }
  std::string describe() const override { return description_; }
  Device memory() const override { return Device::cuda; }

  void all_reduce_sum(std::span<float> values) override { start_all_reduce_sum(values)->wait(); }
  void all_reduce_sum(std::span<double> values) override {
    issue(fmt::format("all-reduce of {} doubles", values.size()), [&] {
      NCCL_CHECK(ncclAllReduce(values.data(), values.data(), values.size(), ncclDouble, ncclSum,
                               comm_, stream_));
    })->wait();
  }
  std::unique_ptr<PendingReduction> start_all_reduce_sum(std::span<float> values) override {
    const std::span<float> one[] = {values};
    return start_all_reduce_sum_list(one);
  }
  std::unique_ptr<PendingReduction> start_all_reduce_sum_list(
      std::span<const std::span<float> > buffers) override {
    std::size_t floats = 0;
    for (std::span<float> buffer : buffers) floats += buffer.size();
    return issue(fmt::format("all-reduce of {} floats in {} buffer{}", floats, buffers.size(),
                             buffers.size() == 1 ? "" : "s"),
                 [&] {
                   for (std::span<float> buffer : buffers)
                     NCCL_CHECK(ncclAllReduce(buffer.data(), buffer.data(), buffer.size(),
                                              ncclFloat, ncclSum, comm_, stream_));
                 });
  }
  void broadcast(std::span<std::byte> bytes, int root) override {
    issue(fmt::format("broadcast of {} bytes from rank {}", bytes.size(), root), [&] {
      NCCL_CHECK(
          ncclBroadcast(bytes.data(), bytes.data(), bytes.size(), ncclUint8, root, comm_, stream_));
    })->wait();
  }
  void all_gather(std::span<const float> mine, std::span<float> all) override {
    SEQTRAIN_CHECK(all.size() == mine.size() * static_cast<std::size_t>(size_),
                   "all_gather of {} into {} over {} ranks", mine.size(), all.size(), size_);
    issue(fmt::format("all-gather of {} floats per rank", mine.size()), [&] {
      NCCL_CHECK(ncclAllGather(mine.data(), all.data(), mine.size(), ncclFloat, comm_, stream_));
    })->wait();
  }
  void reduce_scatter_sum(std::span<const float> all, std::span<float> mine) override {
    SEQTRAIN_CHECK(all.size() == mine.size() * static_cast<std::size_t>(size_),
                   "reduce_scatter of {} into {} over {} ranks", all.size(), mine.size(), size_);
    issue(fmt::format("reduce-scatter of {} floats per rank", mine.size()), [&] {
      NCCL_CHECK(ncclReduceScatter(all.data(), mine.data(), mine.size(), ncclFloat, ncclSum, comm_,
                                   stream_));
    })->wait();
  }
  void barrier() override { host_.barrier(); }
  void abort(int exit_code) override {
    abort_nccl();
    host_.abort(exit_code);
  }

  // Returns when `done` has happened; NCCL's asynchronous error or the
  // timeout first aborts the communicator and throws (one line).
  void wait_for(cudaEvent_t done, const std::string& collective) {
    if (comm_ == nullptr) throw_aborted(collective);
    const auto started = Clock::now();
    for (;;) {
      const cudaError_t status = cudaEventQuery(done);
      if (status == cudaSuccess) break;
      if (status != cudaErrorNotReady) CUDA_CHECK(status);
      ncclResult_t async = ncclSuccess;
      NCCL_CHECK(ncclCommGetAsyncError(comm_, &async));
      if (async != ncclSuccess && async != ncclInProgress)
        fail(collective, fmt::format("NCCL reported {} ({})", static_cast<int>(async),
                                     ncclGetErrorString(async)));
      const double waited = std::chrono::duration<double>(Clock::now() - started).count();
      if (timeout_seconds_ > 0 && waited > timeout_seconds_)
        fail(collective,
             fmt::format("not finished after {:g} s (distributed.timeout_s): another rank is hung, "
                         "stopped or gone",
                         timeout_seconds_));
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    // The backend's next ops (the update) read the sums.
    CUDA_CHECK(cudaStreamWaitEvent(compute_stream_, done, 0));
  }

 private:
  // Issues one collective (or a group of them, by enqueue) on the
  // communicator's stream after the backend's work so far.
  std::unique_ptr<PendingReduction> issue(std::string collective,
                                          const std::function<void()>& enqueue) {
    if (comm_ == nullptr) throw_aborted(collective);
    cudaEvent_t written = nullptr, done = nullptr;
    CUDA_CHECK(cudaEventCreateWithFlags(&written, cudaEventDisableTiming));
    CUDA_CHECK(cudaEventRecord(written, compute_stream_));
    CUDA_CHECK(cudaStreamWaitEvent(stream_, written, 0));
    CUDA_CHECK(cudaEventDestroy(written));  // released once the wait is enqueued
    // An NCCL call that fails at once ends this communicator as an
    // asynchronous error does, naming the collective.
    try {
      NCCL_CHECK(ncclGroupStart());
      try {
        enqueue();
      } catch (...) {
        static_cast<void>(ncclGroupEnd());
        throw;
      }
      NCCL_CHECK(ncclGroupEnd());
    } catch (const DeviceError& error) {
      fail(collective, error.what());
    }
    CUDA_CHECK(cudaEventCreateWithFlags(&done, cudaEventDisableTiming));
    CUDA_CHECK(cudaEventRecord(done, stream_));
    return std::make_unique<NcclPending>(*this, done, std::move(collective));
  }

  [[noreturn]] void throw_aborted(const std::string& collective) const {
    throw DeviceError(fmt::format("NCCL {} on rank {} of {}: the communicator was aborted",
                                  collective, rank_, size_));
  }

  [[noreturn]] void fail(const std::string& collective, const std::string& why) {
    abort_nccl();
    throw DeviceError(fmt::format("NCCL {} on rank {} of {}: {}; NCCL communicator aborted",
                                  collective, rank_, size_, why));
  }

  void abort_nccl() {
    if (comm_ == nullptr) return;
    static_cast<void>(ncclCommAbort(comm_));
    comm_ = nullptr;
  }

  Communicator& host_;
  cudaStream_t compute_stream_;
  double timeout_seconds_;
  int rank_, size_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  std::string description_;
};

NcclPending::~NcclPending() {
  if (!waited_) static_cast<void>(cudaEventSynchronize(done_));
  static_cast<void>(cudaEventDestroy(done_));
}

void NcclPending::wait() {
  if (waited_) return;
  waited_ = true;
  owner_.wait_for(done_, collective_);
}

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(CudaBackend& backend, Communicator& host,
                                                     double timeout_seconds) {
  return std::make_unique<NcclCommunicator>(backend, host, timeout_seconds);
}

std::string describe_nccl_library() {
  int version = 0;
  if (const ncclResult_t status = ncclGetVersion(&version); status != ncclSuccess)
    return fmt::format("unavailable: ncclGetVersion returned {}", ncclGetErrorString(status));
  return fmt::format("NCCL {}.{}.{}", version / 10000, version % 10000 / 100, version % 100);
}

#endif

}  // namespace seqtrain
