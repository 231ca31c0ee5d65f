// The CUDA emulation itself (kernels/emu): kernels written here in CUDA, run on
// the CPU, checked against values computed independently on the host from
// CUDA's documented rules. Also the kernel bugs it must report instead of
// hanging or passing silently.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "kernels/launch.h"

namespace seqtrain::kernels {
namespace {

using emu::KernelFault;

// ---- indices ---------------------------------------------------------------------

__global__ void record_indices(unsigned* out) {
  const unsigned block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  const unsigned thread = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  const unsigned threads = blockDim.x * blockDim.y * blockDim.z;
  out[block * threads + thread] += 1000 * block + thread + 1;
}

TEST(KernelEmulation, EveryThreadOfEveryBlockRunsOnceWithItsIndices) {
  const dim3 grid(3, 2, 2), block(32, 3, 2);
  const unsigned threads = 32 * 3 * 2, blocks = 3 * 2 * 2;
  std::vector<unsigned> out(threads * blocks, 0);
  const LaunchConfig config{grid, block};
  SEQTRAIN_LAUNCH(config, record_indices, out.data());
  for (unsigned b = 0; b < blocks; ++b)
    for (unsigned t = 0; t < threads; ++t)
      ASSERT_EQ(out[b * threads + t], 1000 * b + t + 1) << "block " << b << " thread " << t;
}

// ---- barriers and static shared memory -------------------------------------------

// Each round every thread publishes a value and, after the barrier, reads its
// right neighbour's: without a working barrier a thread would read a stale one.
__global__ void rotate_through_shared(const int* in, int* out, int rounds) {
  __shared__ int ring[160];
  const unsigned n = blockDim.x, t = threadIdx.x;
  int value = in[blockIdx.x * n + t];
  for (int round = 0; round < rounds; ++round) {
    ring[t] = value;
    __syncthreads();
    value = ring[(t + 1) % n] + 1;
    __syncthreads();
  }
  out[blockIdx.x * n + t] = value;
}

TEST(KernelEmulation, BarriersSeparateSharedMemoryPhasesInABlockOf160Threads) {
  const unsigned n = 160, blocks = 2;  // a multiple of 32, not a power of two
  const int rounds = 7;
  std::vector<int> in(n * blocks), out(n * blocks, -1);
  std::iota(in.begin(), in.end(), 0);
  const LaunchConfig config{dim3(blocks), dim3(n)};
  SEQTRAIN_LAUNCH(config, rotate_through_shared, in.data(), out.data(), rounds);
  for (unsigned b = 0; b < blocks; ++b)
    for (unsigned t = 0; t < n; ++t)
      ASSERT_EQ(out[b * n + t], in[b * n + (t + rounds) % n] + rounds) << b << ", " << t;
}

// Block sum of a non-power-of-two block: warps reduce with shuffles, warp 0
// adds the warp totals it finds in shared memory.
__global__ void block_sum(const float* in, float* out) {
  __shared__ float warp_totals[32];
  const unsigned t = threadIdx.x, lane = t % 32, warp = t / 32, warps = blockDim.x / 32;
  float value = in[blockIdx.x * blockDim.x + t];
  for (int offset = 16; offset > 0; offset /= 2)
    value += __shfl_down_sync(0xffffffffu, value, offset);
  if (lane == 0) warp_totals[warp] = value;
  __syncthreads();
  if (warp == 0) {
    float total = lane < warps ? warp_totals[lane] : 0.0f;
    for (int offset = 16; offset > 0; offset /= 2)
      total += __shfl_xor_sync(0xffffffffu, total, offset);
    if (lane == 0) out[blockIdx.x] = total;
  }
}

TEST(KernelEmulation, ShuffleAndBarrierBlockSumOver96Threads) {
  const unsigned n = 96, blocks = 3;
  std::vector<float> in(n * blocks), out(blocks, -1.0f);
  for (unsigned i = 0; i < in.size(); ++i) in[i] = static_cast<float>(i % 17) - 3.0f;
  const LaunchConfig config{dim3(blocks), dim3(n)};
  SEQTRAIN_LAUNCH(config, block_sum, in.data(), out.data());
  for (unsigned b = 0; b < blocks; ++b) {
    double expected = 0.0;
    for (unsigned t = 0; t < n; ++t) expected += in[b * n + t];
    EXPECT_EQ(out[b], expected) << "block " << b;  // small integers: exact
  }
}

// Threads that return early no longer count at later barriers (sm_70+).
__global__ void early_exit_then_barriers(int* out) {
  __shared__ int slots[128];
  const unsigned t = threadIdx.x;
  if (t >= 64) return;
  slots[t] = static_cast<int>(t);
  __syncthreads();
  out[t] = slots[63 - t];
  __syncthreads();
}

TEST(KernelEmulation, ExitedThreadsDropOutOfBarriers) {
  std::vector<int> out(64, -1);
  const LaunchConfig config{dim3(1), dim3(128)};
  SEQTRAIN_LAUNCH(config, early_exit_then_barriers, out.data());
  for (int t = 0; t < 64; ++t) EXPECT_EQ(out[t], 63 - t);
}

// ---- warp shuffles and votes --------------------------------------------------------

struct ShuffleResults {
  float index[64], index_width8[64], up[64], down[64], down_width16[64], butterfly[64],
      butterfly_width4[64];
  double wide[64];
  int integer[64];
  float bf16[64];
};

__global__ void shuffles(ShuffleResults* r) {
  const unsigned t = threadIdx.x, lane = t % 32;
  const float value = 100.0f * static_cast<float>(t);
  const unsigned full = 0xffffffffu;
  r->index[t] = __shfl_sync(full, value, static_cast<int>((lane * 5) % 32));
  r->index_width8[t] = __shfl_sync(full, value, 11, 8);  // 11 mod 8 = lane 3 of the segment
  r->up[t] = __shfl_up_sync(full, value, 3);
  r->down[t] = __shfl_down_sync(full, value, 5);
  r->down_width16[t] = __shfl_down_sync(full, value, 5, 16);
  r->butterfly[t] = __shfl_xor_sync(full, value, 7);
  r->butterfly_width4[t] = __shfl_xor_sync(full, value, 6, 4);
  r->wide[t] = __shfl_sync(full, 0.5 + static_cast<double>(t), 31 - static_cast<int>(lane));
  r->integer[t] = __shfl_down_sync(full, -static_cast<int>(t), 1);
  r->bf16[t] = __bfloat162float(__shfl_xor_sync(full, __float2bfloat16(static_cast<float>(t)), 1));
}

// CUDA Programming Guide, warp shuffle functions: a source outside the caller's
// width-segment leaves the caller's own value (up/down); __shfl_sync wraps the
// source modulo width; __shfl_xor_sync may not read a later segment.
TEST(KernelEmulation, ShufflesFollowCudasLaneRules) {
  ShuffleResults r{};
  const LaunchConfig config{dim3(1), dim3(64)};
  SEQTRAIN_LAUNCH(config, shuffles, &r);
  auto value_of = [](unsigned thread) { return 100.0f * static_cast<float>(thread); };
  for (unsigned t = 0; t < 64; ++t) {
    const unsigned lane = t % 32, warp_base = t - lane;
    SCOPED_TRACE("thread " + std::to_string(t));
    EXPECT_EQ(r.index[t], value_of(warp_base + (lane * 5) % 32));
    EXPECT_EQ(r.index_width8[t], value_of(warp_base + lane / 8 * 8 + 3));
    EXPECT_EQ(r.up[t], value_of(lane >= 3 ? t - 3 : t));
    EXPECT_EQ(r.down[t], value_of(lane + 5 < 32 ? t + 5 : t));
    EXPECT_EQ(r.down_width16[t], value_of(lane % 16 + 5 < 16 ? t + 5 : t));
    EXPECT_EQ(r.butterfly[t], value_of(warp_base + (lane ^ 7)));
    // width 4: lane ^ 6 leaves the segment upward for lanes with bit 2 clear.
    const unsigned source = lane ^ 6;
    EXPECT_EQ(r.butterfly_width4[t], value_of(source / 4 <= lane / 4 ? warp_base + source : t));
    EXPECT_EQ(r.wide[t], 0.5 + static_cast<double>(warp_base + 31 - lane));
    EXPECT_EQ(r.integer[t], -static_cast<int>(lane < 31 ? t + 1 : t));
    EXPECT_EQ(r.bf16[t], static_cast<float>(warp_base + (lane ^ 1)));
  }
}

struct VoteResults {
  unsigned ballot[64];
  int all_even_lanes[64], all_nonnegative[64], any_lane_7[64], any_lane_40[64];
};

__global__ void votes(VoteResults* r) {
  const unsigned t = threadIdx.x, lane = t % 32;
  const unsigned full = 0xffffffffu;
  r->ballot[t] = __ballot_sync(full, lane % 3 == 0 || t == 40);
  r->all_even_lanes[t] = __all_sync(full, lane % 2 == 0);
  r->all_nonnegative[t] = __all_sync(full, t < 1000);
  r->any_lane_7[t] = __any_sync(full, lane == 7);
  r->any_lane_40[t] = __any_sync(full, t == 40);
}

TEST(KernelEmulation, VotesSeeEveryLanesPredicate) {
  VoteResults r{};
  const LaunchConfig config{dim3(1), dim3(64)};
  SEQTRAIN_LAUNCH(config, votes, &r);
  unsigned every_third = 0;
  for (unsigned lane = 0; lane < 32; lane += 3) every_third |= 1u << lane;
  for (unsigned t = 0; t < 64; ++t) {
    SCOPED_TRACE("thread " + std::to_string(t));
    EXPECT_EQ(r.ballot[t], t < 32 ? every_third : every_third | (1u << 8));  // thread 40 = lane 8
    EXPECT_EQ(r.all_even_lanes[t], 0);
    EXPECT_EQ(r.all_nonnegative[t], 1);
    EXPECT_EQ(r.any_lane_7[t], 1);
    EXPECT_EQ(r.any_lane_40[t], t >= 32 ? 1 : 0);
  }
}

// ---- atomics -----------------------------------------------------------------------

struct AtomicResults {
  float float_sum = 0.0f;
  int int_sum = 0;
  int maximum = -1;
  unsigned cas_counter = 0;
  unsigned long long wide_sum = 0;
  __nv_bfloat16 bf16_sum;
  int old_values_seen[4 * 128];
};

__global__ void atomics(AtomicResults* r) {
  const unsigned id = blockIdx.x * blockDim.x + threadIdx.x;
  atomicAdd(&r->float_sum, 0.5f);
  r->old_values_seen[id] = atomicAdd(&r->int_sum, 1);
  atomicMax(&r->maximum, static_cast<int>((id * 37) % 401));
  // A lock-free increment by compare-and-swap, retried until it wins.
  unsigned seen = r->cas_counter, assumed = 0;
  do {
    assumed = seen;
    seen = atomicCAS(&r->cas_counter, assumed, assumed + 1);
  } while (seen != assumed);
  atomicAdd(&r->wide_sum, 1ull << 33);
  atomicAdd(&r->bf16_sum, __float2bfloat16(1.0f));
}

TEST(KernelEmulation, AtomicsFromEveryThreadAddUp) {
  AtomicResults r{};
  r.bf16_sum = __float2bfloat16(0.0f);
  const unsigned threads = 4 * 128;
  const LaunchConfig config{dim3(4), dim3(128)};
  SEQTRAIN_LAUNCH(config, atomics, &r);
  EXPECT_EQ(r.float_sum, 0.5f * threads);
  EXPECT_EQ(r.int_sum, static_cast<int>(threads));
  int expected_max = 0;
  for (unsigned id = 0; id < threads; ++id)
    expected_max = std::max(expected_max, static_cast<int>((id * 37) % 401));
  EXPECT_EQ(r.maximum, expected_max);
  EXPECT_EQ(r.cas_counter, threads);
  EXPECT_EQ(r.wide_sum, static_cast<unsigned long long>(threads) << 33);
  EXPECT_EQ(__bfloat162float(r.bf16_sum), 256.0f);  // bf16 stops counting at 256 (8-bit mantissa)
  // atomicAdd returns the old value: each of 0 .. threads-1 exactly once.
  std::vector<int> old(r.old_values_seen, r.old_values_seen + threads);
  std::sort(old.begin(), old.end());
  for (unsigned i = 0; i < threads; ++i) ASSERT_EQ(old[i], static_cast<int>(i));
}

// ---- dynamic shared memory -------------------------------------------------------

// Reads its slot before writing it (must be NaN: poisoned at block start), then
// writes, synchronises, and reads the mirrored slot.
__global__ void dynamic_shared_mirror(const float* in, float* out, int* unwritten_nan) {
  SEQTRAIN_DYNAMIC_SHARED(float, slots);
  const unsigned t = threadIdx.x, n = blockDim.x;
  if (std::isnan(slots[t])) atomicAdd(unwritten_nan, 1);
  __syncthreads();
  slots[t] = in[blockIdx.x * n + t];
  __syncthreads();
  out[blockIdx.x * n + t] = slots[n - 1 - t] * 2.0f;
}

TEST(KernelEmulation, DynamicSharedMemoryIsPerLaunchAndPoisonedAtEachBlockStart) {
  const unsigned n = 64, blocks = 3;
  std::vector<float> in(n * blocks), out(n * blocks, 0.0f);
  std::iota(in.begin(), in.end(), 1.0f);
  int unwritten_nan = 0;
  const LaunchConfig config{dim3(blocks), dim3(n), n * sizeof(float)};
  SEQTRAIN_LAUNCH(config, dynamic_shared_mirror, in.data(), out.data(), &unwritten_nan);
  EXPECT_EQ(unwritten_nan, static_cast<int>(n * blocks));  // every block starts poisoned
  for (unsigned b = 0; b < blocks; ++b)
    for (unsigned t = 0; t < n; ++t) ASSERT_EQ(out[b * n + t], 2.0f * in[b * n + n - 1 - t]);
}

// ---- bugs the emulation reports ---------------------------------------------------

__global__ void divergent_barrier(int* out) {
  if (threadIdx.x < 32) {
    __syncthreads();
  } else {
    __syncthreads();
  }
  out[threadIdx.x] = 1;
}

__global__ void barrier_against_shuffle(float* out) {
  float value = static_cast<float>(threadIdx.x);
  if (threadIdx.x < 16)
    __syncthreads();
  else
    value = __shfl_xor_sync(0xffffffffu, value, 1);
  out[threadIdx.x] = value;
}

__global__ void shuffle_in_partial_warp(float* out) {
  out[threadIdx.x] = __shfl_down_sync(0xffffffffu, 1.0f, 1);
}

__global__ void trapping(int* out) {
  if (threadIdx.x == 5) __trap();
  out[threadIdx.x] = 1;
}

std::string fault_message(const std::function<void()>& launch) {
  try {
    launch();
  } catch (const KernelFault& fault) {
    return fault.what();
  }
  ADD_FAILURE() << "the launch did not fail";
  return {};
}

TEST(KernelEmulation, BarrierReachedAtDifferentPlacesIsAFault) {
  std::vector<int> out(64, 0);
  const LaunchConfig config{dim3(1), dim3(64)};
  const std::string message =
      fault_message([&] { SEQTRAIN_LAUNCH(config, divergent_barrier, out.data()); });
  EXPECT_NE(message.find("__syncthreads at different places"), std::string::npos) << message;
  EXPECT_NE(message.find("block (0, 0, 0)"), std::string::npos) << message;
}

TEST(KernelEmulation, DeadlockIsReportedWithWhereEachThreadWaits) {
  std::vector<float> out(32, 0.0f);
  const LaunchConfig config{dim3(1), dim3(32)};
  const std::string message =
      fault_message([&] { SEQTRAIN_LAUNCH(config, barrier_against_shuffle, out.data()); });
  EXPECT_NE(message.find("deadlock"), std::string::npos) << message;
  EXPECT_NE(message.find("threads 0-15 waiting in __syncthreads at kernels_emu_test.cc:"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("threads 16-31 waiting in __shfl_xor_sync at kernels_emu_test.cc:"),
            std::string::npos)
      << message;
}

TEST(KernelEmulation, ShuffleInAWarpOfFewerThan32ThreadsIsAFault) {
  std::vector<float> out(48, 0.0f);
  const LaunchConfig config{dim3(1), dim3(48)};
  const std::string message =
      fault_message([&] { SEQTRAIN_LAUNCH(config, shuffle_in_partial_warp, out.data()); });
  EXPECT_NE(message.find("in warp 1 of 16 threads"), std::string::npos) << message;
}

TEST(KernelEmulation, ExceptionInKernelCodeIsAFaultNamingTheThread) {
  std::vector<int> out(64, 0);
  const LaunchConfig config{dim3(2), dim3(64)};
  const std::string message = fault_message([&] { SEQTRAIN_LAUNCH(config, trapping, out.data()); });
  EXPECT_NE(message.find("thread 5 threw: __trap() called"), std::string::npos) << message;
}

TEST(KernelEmulation, InvalidLaunchConfigurationIsRefused) {
  std::vector<int> out(64, 0);
  const LaunchConfig too_many_threads{dim3(1), dim3(64, 32)};
  EXPECT_NE(fault_message([&] {
              SEQTRAIN_LAUNCH(too_many_threads, trapping, out.data());
            }).find("2048 threads per block exceed 1024"),
            std::string::npos);
  const LaunchConfig empty_grid{dim3(0), dim3(64)};
  EXPECT_NE(fault_message([&] {
              SEQTRAIN_LAUNCH(empty_grid, trapping, out.data());
            }).find("the grid is empty"),
            std::string::npos);
}

TEST(KernelEmulation, LaunchesWorkAgainAfterAFault) {
  std::vector<float> out(32, 0.0f);
  const LaunchConfig config{dim3(1), dim3(32)};
  fault_message([&] { SEQTRAIN_LAUNCH(config, barrier_against_shuffle, out.data()); });
  std::vector<float> in(32 * 2, 1.0f), sums(2, 0.0f);
  const LaunchConfig sum_config{dim3(2), dim3(32)};
  SEQTRAIN_LAUNCH(sum_config, block_sum, in.data(), sums.data());
  EXPECT_EQ(sums[0], 32.0f);
  EXPECT_EQ(sums[1], 32.0f);
}

// A thread spinning forever cannot be unwound: the watchdog reports and aborts.
__global__ void spin_forever(int* flag) {
  if (threadIdx.x == 0)
    while (std::atomic_ref<int>(*flag).load() == 0) {
    }
  __syncthreads();
}

void launch_spinning_block_with_short_watchdog() {
  emu::set_watchdog_timeout(std::chrono::milliseconds(200));
  int flag = 0;
  const LaunchConfig config{dim3(1), dim3(64)};
  SEQTRAIN_LAUNCH(config, spin_forever, &flag);
}

TEST(KernelEmulationDeathTest, WatchdogAbortsABlockThatNeverFinishes) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(launch_spinning_block_with_short_watchdog(),
               "watchdog: block \\(0, 0, 0\\).*thread 0 running; threads 1-63 waiting in "
               "__syncthreads");
}

}  // namespace
}  // namespace seqtrain::kernels
