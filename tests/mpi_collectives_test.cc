// The MPI communicator (dist/communicator.h) under mpirun: every collective
// against the value it must give, computed here from each rank's known
// inputs. Run by ctest as `mpirun -np 2 seqtrain_mpi_tests` (every rank runs
// every test; a failure on either fails the job).
#include <gtest/gtest.h>

#include <cstddef>
#include <numeric>
#include <vector>

#include "dist/communicator.h"

namespace seqtrain::testing {
namespace {

Communicator& world() {
  static std::unique_ptr<Communicator> communicator = make_communicator();
  return *communicator;
}

// Rank r's value i: a number no two (rank, i) pairs share.
float value_of(int rank, std::size_t i) { return static_cast<float>(1000 * rank + i) + 0.25f; }

TEST(MpiCommunicator, TheLaunchIsSeenAndTheRanksAreDistinct) {
  const Launch launch = detect_launch();
  ASSERT_TRUE(launch.by_launcher) << "run this binary under mpirun";
  Communicator& c = world();
  EXPECT_EQ(c.world_size(), launch.world_size);
  EXPECT_EQ(c.rank(), launch.rank);
  EXPECT_GE(c.world_size(), 2);
  // All ranks are on this machine: their local ranks are the ranks.
  EXPECT_EQ(c.local_rank(), c.rank());
  std::vector<double> ranks(static_cast<std::size_t>(c.world_size()), 0.0);
  ranks[static_cast<std::size_t>(c.rank())] = 1.0;
  c.all_reduce_sum(ranks);
  for (double seen : ranks) EXPECT_EQ(seen, 1.0);  // each rank exactly once
}

TEST(MpiCommunicator, AllReduceSumsEveryElementOverTheRanks) {
  Communicator& c = world();
  std::vector<float> values(1000003);  // odd, above any internal chunk size
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = value_of(c.rank(), i);
  c.all_reduce_sum(values);
  for (std::size_t i = 0; i < values.size(); i += 997) {
    float expected = 0.0f;
    for (int r = 0; r < c.world_size(); ++r) expected += value_of(r, i);
    ASSERT_EQ(values[i], expected) << "element " << i;
  }
  std::vector<double> counts{static_cast<double>(c.rank()), 1.0};
  c.all_reduce_sum(counts);
  EXPECT_EQ(counts[1], c.world_size());
  EXPECT_EQ(counts[0], c.world_size() * (c.world_size() - 1) / 2.0);
}

TEST(MpiCommunicator, BroadcastGatherAndReduceScatter) {
  Communicator& c = world();
  const int n = c.world_size();
  std::vector<std::byte> bytes(37, std::byte{static_cast<unsigned char>(c.rank())});
  c.broadcast(bytes, n - 1);
  for (std::byte b : bytes) EXPECT_EQ(static_cast<int>(b), n - 1);

  const std::size_t piece = 5;
  std::vector<float> mine(piece), all(piece * static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < piece; ++i) mine[i] = value_of(c.rank(), i);
  c.all_gather(mine, all);
  for (int r = 0; r < n; ++r)
    for (std::size_t i = 0; i < piece; ++i)
      EXPECT_EQ(all[static_cast<std::size_t>(r) * piece + i], value_of(r, i));

  // Each rank contributes all[j] = value_of(rank, j); rank r keeps the sum of
  // the elements of its piece.
  for (std::size_t j = 0; j < all.size(); ++j) all[j] = value_of(c.rank(), j);
  std::vector<float> reduced(piece);
  c.reduce_scatter_sum(all, reduced);
  for (std::size_t i = 0; i < piece; ++i) {
    const std::size_t j = static_cast<std::size_t>(c.rank()) * piece + i;
    float expected = 0.0f;
    for (int r = 0; r < n; ++r) expected += value_of(r, j);
    EXPECT_EQ(reduced[i], expected) << i;
  }
  c.barrier();
}

}  // namespace
}  // namespace seqtrain::testing
