// The NCCL communicator (backends/cuda/nccl_communicator.h) of the CUDA
// backend on the emulated device, two ranks under mpirun: the ncclUniqueId
// goes from rank 0 over MPI (the emulated ncclCommInitRank fails unless every
// rank holds rank 0's), and every collective on device buffers gives the
// value computed here from each rank's known inputs; the gradient buckets
// sum every parameter's gradient in place on the device. Run by ctest as
// `mpirun -np 2 seqtrain_nccl_emu_tests`.
#include <gtest/gtest.h>

#include <cstddef>
#include <vector>

#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/nccl_communicator.h"
#include "dist/communicator.h"
#include "nccl_test_support.h"
#include "seqtrain/parameters.h"
#include "train/gradient_buckets.h"

namespace seqtrain::testing {
namespace {

struct World {
  std::unique_ptr<Communicator> host = make_communicator();
  CudaBackend backend{0};
  std::unique_ptr<Communicator> nccl = make_nccl_communicator(backend, *host, 60.0);
};

World& world() {
  static World instance;
  return instance;
}

// Rank r's value i: exact in fp32, and no two (rank, i) pairs share it.
float value_of(int rank, std::size_t i) {
  return static_cast<float>(1000 * rank + i) + 0.25f;
}

std::vector<float> values_of(int rank, std::size_t count, std::size_t first = 0) {
  std::vector<float> values(count);
  for (std::size_t i = 0; i < count; ++i) values[i] = value_of(rank, first + i);
  return values;
}

float sum_over_ranks(int ranks, std::size_t i) {
  float sum = 0.0f;
  for (int r = 0; r < ranks; ++r) sum += value_of(r, i);
  return sum;
}

TEST(NcclCommunicatorTwoRanks, TheRanksAreMpisAndTheBuffersTheDevices) {
  World& w = world();
  ASSERT_GE(w.host->world_size(), 2) << "run this binary under mpirun";
  EXPECT_EQ(w.nccl->rank(), w.host->rank());
  EXPECT_EQ(w.nccl->world_size(), w.host->world_size());
  EXPECT_EQ(w.nccl->memory(), Device::cuda);
}

TEST(NcclCommunicatorTwoRanks, AllReduceSumsAListOfDeviceBuffers) {
  World& w = world();
  const int n = w.nccl->world_size(), r = w.nccl->rank();
  // Sizes that share nothing: one element, odd, larger than a page.
  const std::vector<std::size_t> sizes = {1, 1001, 40999};
  std::vector<Tensor> buffers;
  std::vector<std::span<float>> spans;
  std::size_t first = 0;
  for (std::size_t size : sizes) {
    buffers.push_back(device_values(w.backend, values_of(r, size, first)));
    first += size;
  }
  for (Tensor& buffer : buffers) spans.push_back(buffer.span<float>());
  w.nccl->start_all_reduce_sum_list(spans)->wait();
  first = 0;
  for (std::size_t b = 0; b < sizes.size(); ++b) {
    const std::vector<float> summed = host_values(w.backend, buffers[b]);
    for (std::size_t i = 0; i < summed.size(); ++i)
      ASSERT_EQ(summed[i], sum_over_ranks(n, first + i)) << "buffer " << b << " element " << i;
    first += sizes[b];
  }
  Tensor counts = device_doubles(w.backend, {static_cast<double>(r), 1.0});
  w.nccl->all_reduce_sum(double_span(counts));
  EXPECT_EQ(host_doubles(w.backend, counts),
            (std::vector<double>{n * (n - 1) / 2.0, static_cast<double>(n)}));
}

TEST(NcclCommunicatorTwoRanks, ReduceScatterAllGatherAndBroadcast) {
  World& w = world();
  const int n = w.nccl->world_size(), r = w.nccl->rank();
  const std::size_t share = 37;
  const auto ranks = static_cast<std::size_t>(n);

  // reduce-scatter: rank r holds the sum of everyone's elements [r * share, (r + 1) * share).
  Tensor all = device_values(w.backend, values_of(r, share * ranks));
  Tensor mine = device_values(w.backend, std::vector<float>(share, -1.0f));
  w.nccl->reduce_scatter_sum(all.span<float>(), mine.span<float>());
  const std::vector<float> reduced = host_values(w.backend, mine);
  for (std::size_t i = 0; i < share; ++i)
    ASSERT_EQ(reduced[i], sum_over_ranks(n, static_cast<std::size_t>(r) * share + i)) << i;

  // all-gather: element [q * share + i] is rank q's value i.
  Tensor own = device_values(w.backend, values_of(r, share));
  Tensor gathered = device_values(w.backend, std::vector<float>(share * ranks, -1.0f));
  w.nccl->all_gather(own.span<float>(), gathered.span<float>());
  const std::vector<float> seen = host_values(w.backend, gathered);
  for (int q = 0; q < n; ++q)
    for (std::size_t i = 0; i < share; ++i)
      ASSERT_EQ(seen[static_cast<std::size_t>(q) * share + i], value_of(q, i)) << q << " " << i;

  // broadcast from the last rank: everyone holds its values.
  Tensor bytes = device_values(w.backend, values_of(r, 11));
  w.nccl->broadcast(std::as_writable_bytes(bytes.span<float>()), n - 1);
  EXPECT_EQ(host_values(w.backend, bytes), values_of(n - 1, 11));
}

// The gradient path of a data-parallel step: buckets small enough that the
// parameters fall in several, summed in place on the device by NCCL groups.
TEST(NcclCommunicatorTwoRanks, GradientBucketsSumEveryGradientOnTheDevice) {
  World& w = world();
  const int n = w.nccl->world_size(), r = w.nccl->rank();
  ParameterStore parameters(w.backend);
  const std::vector<std::pair<const char*, std::int64_t>> shapes = {
      {"a", 3}, {"b", 300}, {"c", 7}, {"d", 129}};
  std::size_t first = 0;
  std::vector<std::size_t> firsts;
  for (const auto& [name, size] : shapes) {
    Parameter& p = parameters.add(name, {size}, true);
    w.backend.copy_from_host(
        Tensor::from_vector(values_of(r, static_cast<std::size_t>(size), first), {size}), p.grad);
    firsts.push_back(first);
    first += static_cast<std::size_t>(size);
  }
  // 1300 bytes a bucket, in reverse order: {d, c} and {b, a}.
  GradientBuckets buckets(parameters, 1300, *w.nccl);
  EXPECT_EQ(buckets.bucket_count(), 2u);
  buckets.all_reduce();
  for (std::size_t k = 0; k < shapes.size(); ++k) {
    const Tensor grad = parameters.grad_to_host(parameters.get(shapes[k].first));
    const auto summed = grad.span<float>();
    for (std::size_t i = 0; i < summed.size(); ++i)
      ASSERT_EQ(summed[i], sum_over_ranks(n, firsts[k] + i)) << shapes[k].first << " " << i;
  }
}

}  // namespace
}  // namespace seqtrain::testing
