// The NCCL communicator (backends/cuda/nccl_communicator.h) on one rank of
// the emulated device: its buffers must be device memory, every collective
// leaves one rank's values as they are (the sum over one rank), and its
// watching: an NCCL asynchronous error, or a collective that never finishes
// past the timeout, aborts the communicator with one line naming the
// collective and the rank. The sums over two ranks are
// mpi_nccl_collectives_test.cc's (under mpirun).
#include <gtest/gtest.h>
#include <nccl.h>

#include <string>
#include <vector>

#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/nccl_communicator.h"
#include "kernels/emu/runtime/emulated_device.h"
#include "nccl_test_support.h"

namespace seqtrain::testing {
namespace {

struct OneRank {
  CudaBackend backend{0};
  std::unique_ptr<Communicator> host = make_single_process_communicator();
  std::unique_ptr<Communicator> nccl;
  explicit OneRank(double timeout_seconds = 0.0)
      : nccl(make_nccl_communicator(backend, *host, timeout_seconds)) {}
};

TEST(NcclCommunicator, OneRanksCollectivesKeepItsDeviceValues) {
  OneRank one;
  Communicator& c = *one.nccl;
  EXPECT_EQ(c.memory(), Device::cuda);
  EXPECT_EQ(c.rank(), 0);
  EXPECT_EQ(c.world_size(), 1);
  EXPECT_NE(c.describe().find("NCCL 2."), std::string::npos) << c.describe();

  const std::vector<float> values = {1.5f, -2.0f, 3.25f, 7.0f};
  Tensor x = device_values(one.backend, values);
  c.all_reduce_sum(x.span<float>());
  EXPECT_EQ(host_values(one.backend, x), values);

  Tensor a = device_values(one.backend, {1, 2}), b = device_values(one.backend, {3, 4, 5});
  const std::span<float> list[] = {a.span<float>(), b.span<float>()};
  c.start_all_reduce_sum_list(list)->wait();
  EXPECT_EQ(host_values(one.backend, a), (std::vector<float>{1, 2}));
  EXPECT_EQ(host_values(one.backend, b), (std::vector<float>{3, 4, 5}));

  Tensor gathered = device_values(one.backend, {0, 0, 0, 0});
  c.all_gather(x.span<float>(), gathered.span<float>());
  EXPECT_EQ(host_values(one.backend, gathered), values);
  Tensor mine = device_values(one.backend, {0, 0, 0, 0});
  c.reduce_scatter_sum(x.span<float>(), mine.span<float>());
  EXPECT_EQ(host_values(one.backend, mine), values);

  Tensor doubles = device_doubles(one.backend, {0.1, 1e300});
  c.all_reduce_sum(double_span(doubles));
  EXPECT_EQ(host_doubles(one.backend, doubles), (std::vector<double>{0.1, 1e300}));
}

// The gradient path hands NCCL device buffers; a host buffer is a mistake
// the emulated NCCL refuses (a GPU's NCCL would fault or read garbage).
TEST(NcclCommunicator, HostBuffersAreRefused) {
  OneRank one;
  std::vector<float> host(8, 1.0f);
  try {
    one.nccl->all_reduce_sum(std::span<float>(host));
    FAIL() << "an all-reduce of host memory went through";
  } catch (const emu::DeviceFault& fault) {
    EXPECT_NE(std::string(fault.what()).find("ncclAllReduce sendbuff"), std::string::npos)
        << fault.what();
    EXPECT_NE(std::string(fault.what()).find("is not device memory"), std::string::npos)
        << fault.what();
  }
}

TEST(NcclCommunicator, AnAsynchronousErrorAbortsAndNamesTheCollectiveAndTheRank) {
  OneRank one;
  Tensor x = device_values(one.backend, std::vector<float>(8, 1.0f));
  emu::fail_next_nccl_collective(ncclRemoteError);
  try {
    one.nccl->all_reduce_sum(x.span<float>());
    FAIL() << "the failed all-reduce returned";
  } catch (const DeviceError& error) {
    EXPECT_EQ(std::string(error.what()),
              "NCCL all-reduce of 8 floats in 1 buffer on rank 0 of 1: NCCL reported 6 (remote "
              "process exited or there was a network error); NCCL communicator aborted");
  }
  // Aborted: later collectives say so instead of touching NCCL.
  try {
    one.nccl->all_gather(x.span<float>(), x.span<float>());
    FAIL() << "a collective on the aborted communicator ran";
  } catch (const DeviceError& error) {
    EXPECT_EQ(std::string(error.what()),
              "NCCL all-gather of 8 floats per rank on rank 0 of 1: the communicator was aborted");
  }
}

// A collective that never finishes (a peer hung): after distributed.timeout_s
// the waiting rank aborts NCCL and says so, instead of waiting for ever.
TEST(NcclCommunicator, ACollectiveThatNeverFinishesTimesOut) {
  OneRank one(0.2);
  Tensor x = device_values(one.backend, std::vector<float>(5, 2.0f));
  emu::stall_next_nccl_collective();
  try {
    one.nccl->broadcast(std::as_writable_bytes(x.span<float>()), 0);
    FAIL() << "the stalled broadcast returned";
  } catch (const DeviceError& error) {
    EXPECT_EQ(std::string(error.what()),
              "NCCL broadcast of 20 bytes from rank 0 on rank 0 of 1: not finished after 0.2 s "
              "(distributed.timeout_s): another rank is hung, stopped or gone; NCCL "
              "communicator aborted");
  }
}

}  // namespace
}  // namespace seqtrain::testing
