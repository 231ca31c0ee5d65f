// The NCCL communicator's refusals and watching on the emulated device,
// which can provoke what a GPU cannot on demand: a host buffer handed to NCCL
// is refused (the gradient path must hand device buffers), and an NCCL
// asynchronous error, or a collective that never finishes past
// distributed.timeout_s, aborts the communicator with one line naming the
// collective and the rank.
#include <gtest/gtest.h>
#include <nccl.h>

#include <string>
#include <vector>

#include "kernels/emu/runtime/emulated_device.h"
#include "nccl_test_support.h"

namespace seqtrain::testing {
namespace {

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
