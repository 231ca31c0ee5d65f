// The dropout kernel (kernels/dropout.cu) on the CUDA emulation, held against
// the serial backend's dropout_forward: the kept/dropped pattern must be the
// same element for element (both draw philox_uniform(seed, stream, step, i)),
// and fp32 values bit for bit. Counts 1, 37, 1003 and 4099 end in partial
// Philox groups of 4 and partial 256-thread blocks; steps above 2^32 use the
// counter's high bits.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernel_test_storage.h"
#include "kernels/dropout.h"
#include "test_support.h"

namespace seqtrain::testing {
namespace {

using kernels::DropoutForwardArgs;

struct DropoutCase {
  std::int64_t count;
  float probability;
  std::uint64_t seed, stream, step;
  std::uint64_t first_index = 0;
};

struct DropoutResult {
  Tensor y, mask;
};

template <class Storage>
DropoutResult run_kernel(const DropoutCase& c, const Tensor& x) {
  const std::vector<Storage> x_values = storage_values<Storage>(x);
  GuardedBuffer<Storage> y(c.count, 0, storage_from_float<Storage>(-7.0f));
  GuardedBuffer<Storage> mask(c.count, 0, storage_from_float<Storage>(-7.0f));
  kernels::dropout_forward(
      DropoutForwardArgs<Storage>{c.count, c.probability, c.seed, c.stream, c.step, x_values.data(),
                                  y.data(), mask.data(), c.first_index},
      nullptr);
  EXPECT_TRUE(y.guards_intact());
  EXPECT_TRUE(mask.guards_intact());
  return {storage_tensor(y.data(), {c.count}), storage_tensor(mask.data(), {c.count})};
}

template <class Storage>
void expect_dropout_matches_serial(const DropoutCase& c) {
  const bool fp32 = std::is_same_v<Storage, float>;
  SCOPED_TRACE(std::string(fp32 ? "fp32" : "bf16") + " count " + std::to_string(c.count) + " p " +
               std::to_string(c.probability) + " step " + std::to_string(c.step) + " first " +
               std::to_string(c.first_index));
  const Tensor x = rounded_to_storage<Storage>(random_tensor({c.count}, c.seed + 100, 2.0f));
  const DropoutResult kernel = run_kernel<Storage>(c, x);
  Tensor y = Tensor::zeros({c.count}), mask = Tensor::zeros({c.count});
  make_serial_backend()->dropout_forward(x, c.probability, c.seed, c.stream, c.step,
                                          c.first_index, y, mask);

  const std::vector<float> kernel_mask = kernel.mask.to_vector(), serial_mask = mask.to_vector();
  std::int64_t dropped = 0;
  for (std::int64_t i = 0; i < c.count; ++i) {
    ASSERT_EQ(kernel_mask[i] == 0.0f, serial_mask[i] == 0.0f) << "element " << i;
    dropped += serial_mask[i] == 0.0f;
  }
  if (c.probability == 0.0f) {
    EXPECT_EQ(dropped, 0);
  }
  // fp32: the same factor and product; bf16: both rounded once (2^-9 relative).
  const double rtol = fp32 ? 0.0 : 4e-3;
  EXPECT_TRUE(tensors_close(kernel.mask, mask, 0.0, rtol));
  EXPECT_TRUE(tensors_close(kernel.y, y, 0.0, rtol));
}

TEST(DropoutKernel, KeptPatternAndValuesMatchSerialBitForBit) {
  for (std::int64_t count : {1, 37, 1003, 4099})
    for (float probability : {0.1f, 0.5f}) {
      const DropoutCase c{count, probability, 1234, 7, 42};
      expect_dropout_matches_serial<float>(c);
      expect_dropout_matches_serial<__nv_bfloat16>(c);
    }
}

TEST(DropoutKernel, LargeStepsSeedsAndStreamsUseAllCounterBits) {
  expect_dropout_matches_serial<float>(
      {1003, 0.3f, 0x9E3779B97F4A7C15ull, 0xFFFFFFFF00000001ull, (1ull << 23) + 5});
}

TEST(DropoutKernel, ProbabilityZeroKeepsEverything) {
  expect_dropout_matches_serial<float>({1003, 0.0f, 1, 2, 3});
}

// A part of a tensor placed at first_index (a data-parallel rank's rows)
// draws what the whole tensor draws there, for every alignment of the part
// against the Philox blocks of four.
TEST(DropoutKernel, APartAtFirstIndexDrawsWhatTheWholeDrawsThere) {
  const std::int64_t whole_count = 1003;
  const Tensor whole = random_tensor({whole_count}, 9);
  Tensor whole_y = Tensor::zeros({whole_count}), whole_mask = Tensor::zeros({whole_count});
  make_serial_backend()->dropout_forward(whole, 0.4f, 11, 12, 13, 0, whole_y, whole_mask);
  const std::vector<float> expected = whole_mask.to_vector();
  for (std::int64_t first : {0, 1, 2, 3, 5, 258})
    for (std::int64_t count : {1, 2, 7, 600}) {
      SCOPED_TRACE("first " + std::to_string(first) + " count " + std::to_string(count));
      const std::vector<float> values = whole.to_vector();
      const Tensor part = Tensor::from_vector(
          std::vector<float>(values.begin() + first, values.begin() + first + count), {count});
      const DropoutResult kernel =
          run_kernel<float>({count, 0.4f, 11, 12, 13, static_cast<std::uint64_t>(first)}, part);
      const std::vector<float> mask = kernel.mask.to_vector();
      for (std::int64_t i = 0; i < count; ++i) ASSERT_EQ(mask[i], expected[first + i]) << i;
    }
}

// Different steps draw different masks (the step is part of the counter).
TEST(DropoutKernel, MasksDifferBetweenSteps) {
  const Tensor x = random_tensor({1003}, 5);
  const DropoutResult first = run_kernel<float>({1003, 0.5f, 1, 2, 3}, x);
  const DropoutResult second = run_kernel<float>({1003, 0.5f, 1, 2, 4}, x);
  EXPECT_NE(first.mask.to_vector(), second.mask.to_vector());
}

}  // namespace
}  // namespace seqtrain::testing
