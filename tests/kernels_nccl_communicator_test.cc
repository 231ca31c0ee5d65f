// The NCCL communicator (backends/cuda/nccl_communicator.h) on one rank:
// every collective on device buffers leaves one rank's values as they are
// (the sum over one rank). Device-neutral: in seqtrain_kernel_tests on the
// emulated device and in seqtrain_gpu_tests on a GPU's NCCL (the GPU check's
// one-GPU NCCL smoke test). What only the emulation can provoke (host
// buffers, NCCL errors, hangs) is kernels_nccl_faults_test.cc; the sums over
// two ranks are mpi_nccl_collectives_test.cc's (under mpirun).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/nccl_communicator.h"
#include "nccl_test_support.h"

namespace seqtrain::testing {
namespace {

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

}  // namespace
}  // namespace seqtrain::testing
