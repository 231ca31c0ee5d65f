// The element-wise kernels (kernels/elementwise.cu) on the CUDA emulation,
// held against the serial backend's add, mul, scale, accumulate and fill_zero
// on inputs rounded to the storage type first.
//
// Counts are 1, 37, 1003 and 4099: none is a multiple of the 16-byte group (4
// floats, 8 bf16) or of the 256-thread block, so every count has a tail done
// element by element. Each count runs with 16-byte aligned buffers (the
// vectorised path) and with buffers one element off (the scalar path), and
// guard elements around each output must stay untouched.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "kernel_test_storage.h"
#include "kernels/elementwise.h"
#include "seqtrain/bfloat16.h"
#include "test_support.h"

namespace seqtrain::testing {
namespace {

using kernels::ElementwiseAccumulateArgs;
using kernels::ElementwiseBinaryArgs;
using kernels::ElementwiseFillZeroArgs;
using kernels::ElementwiseScaleArgs;

const std::vector<std::int64_t> kCounts = {1, 37, 1003, 4099};
const std::vector<std::int64_t> kOffsets = {0, 1};  // 16-byte aligned, and one element off

// fp32: the kernel does the same single fp32 operation per element as serial.
constexpr double kFloatRtol = 1e-7;
// bf16: the fp32 result is rounded once to 8 mantissa bits (2^-9 relative).
constexpr double kBf16Rtol = 4e-3;

template <class Storage>
double rtol() {
  return std::is_same_v<Storage, float> ? kFloatRtol : kBf16Rtol;
}

template <class Storage>
std::string describe(std::int64_t count, std::int64_t offset) {
  return std::string(std::is_same_v<Storage, float> ? "fp32" : "bf16") + " count " +
         std::to_string(count) + " offset " + std::to_string(offset);
}

struct Inputs {
  Tensor a, b;  // rounded to the storage type
};

template <class Storage>
Inputs make_inputs(std::int64_t count, std::uint64_t seed) {
  return {rounded_to_storage<Storage>(random_tensor({count}, seed, 2.0f)),
          rounded_to_storage<Storage>(random_tensor({count}, seed + 1, 2.0f))};
}

// Runs a two-input kernel into a guarded output and checks it against serial.
template <class Storage>
void expect_binary_matches_serial(
    void (*kernel)(const ElementwiseBinaryArgs<Storage>&, cudaStream_t),
    const std::function<void(Backend&, const Tensor&, const Tensor&, Tensor&)>& serial_op) {
  auto serial = make_serial_backend();
  for (std::int64_t count : kCounts)
    for (std::int64_t offset : kOffsets) {
      SCOPED_TRACE(describe<Storage>(count, offset));
      const Inputs inputs = make_inputs<Storage>(count, static_cast<std::uint64_t>(count));
      GuardedBuffer<Storage> a(count, offset, storage_from_float<Storage>(0.0f));
      GuardedBuffer<Storage> b(count, offset, storage_from_float<Storage>(0.0f));
      GuardedBuffer<Storage> out(count, offset, storage_from_float<Storage>(-7.0f));
      a.assign(storage_values<Storage>(inputs.a));
      b.assign(storage_values<Storage>(inputs.b));
      kernel({count, a.data(), b.data(), out.data()}, nullptr);
      Tensor expected = Tensor::zeros({count});
      serial_op(*serial, inputs.a, inputs.b, expected);
      EXPECT_TRUE(
          tensors_close(storage_tensor(out.data(), {count}), expected, 0.0, rtol<Storage>()));
      EXPECT_TRUE(out.guards_intact());
    }
}

void serial_add(Backend& backend, const Tensor& a, const Tensor& b, Tensor& out) {
  backend.add(a, b, out);
}
void serial_mul(Backend& backend, const Tensor& a, const Tensor& b, Tensor& out) {
  backend.mul(a, b, out);
}

TEST(ElementwiseKernels, AddMatchesSerialForOddCountsAlignedOrNot) {
  expect_binary_matches_serial<float>(kernels::elementwise_add, serial_add);
  expect_binary_matches_serial<__nv_bfloat16>(kernels::elementwise_add, serial_add);
}

TEST(ElementwiseKernels, MulMatchesSerialForOddCountsAlignedOrNot) {
  expect_binary_matches_serial<float>(kernels::elementwise_mul, serial_mul);
  expect_binary_matches_serial<__nv_bfloat16>(kernels::elementwise_mul, serial_mul);
}

template <class Storage>
void expect_scale_matches_serial() {
  auto serial = make_serial_backend();
  const float factor = -0.37f;
  for (std::int64_t count : kCounts)
    for (std::int64_t offset : kOffsets) {
      SCOPED_TRACE(describe<Storage>(count, offset));
      const Inputs inputs = make_inputs<Storage>(count, 10 + static_cast<std::uint64_t>(count));
      GuardedBuffer<Storage> x(count, offset, storage_from_float<Storage>(0.0f));
      GuardedBuffer<Storage> out(count, offset, storage_from_float<Storage>(-7.0f));
      x.assign(storage_values<Storage>(inputs.a));
      kernels::elementwise_scale(ElementwiseScaleArgs<Storage>{count, x.data(), factor, out.data()},
                                 nullptr);
      Tensor expected = Tensor::zeros({count});
      serial->scale(inputs.a, factor, expected);
      EXPECT_TRUE(
          tensors_close(storage_tensor(out.data(), {count}), expected, 0.0, rtol<Storage>()));
      EXPECT_TRUE(out.guards_intact());
    }
}

TEST(ElementwiseKernels, ScaleMatchesSerialForOddCountsAlignedOrNot) {
  expect_scale_matches_serial<float>();
  expect_scale_matches_serial<__nv_bfloat16>();
}

template <class Storage>
void expect_accumulate_matches_serial() {
  auto serial = make_serial_backend();
  for (std::int64_t count : kCounts)
    for (std::int64_t offset : kOffsets) {
      SCOPED_TRACE(describe<Storage>(count, offset));
      const Inputs inputs = make_inputs<Storage>(count, 20 + static_cast<std::uint64_t>(count));
      GuardedBuffer<Storage> x(count, offset, storage_from_float<Storage>(0.0f));
      GuardedBuffer<Storage> target(count, offset, storage_from_float<Storage>(-7.0f));
      x.assign(storage_values<Storage>(inputs.a));
      target.assign(storage_values<Storage>(inputs.b));
      kernels::elementwise_accumulate(
          ElementwiseAccumulateArgs<Storage>{count, x.data(), target.data()}, nullptr);
      Tensor expected = inputs.b.clone();
      serial->accumulate(inputs.a, expected);
      EXPECT_TRUE(
          tensors_close(storage_tensor(target.data(), {count}), expected, 0.0, rtol<Storage>()));
      EXPECT_TRUE(target.guards_intact());
    }
}

TEST(ElementwiseKernels, AccumulateAddsIntoTheTargetLikeSerial) {
  expect_accumulate_matches_serial<float>();
  expect_accumulate_matches_serial<__nv_bfloat16>();
}

template <class Storage>
void expect_fill_zero_clears_exactly_count() {
  for (std::int64_t count : kCounts)
    for (std::int64_t offset : kOffsets) {
      SCOPED_TRACE(describe<Storage>(count, offset));
      GuardedBuffer<Storage> x(count, offset, storage_from_float<Storage>(-7.0f));
      kernels::elementwise_fill_zero(ElementwiseFillZeroArgs<Storage>{count, x.data()}, nullptr);
      for (std::int64_t i = 0; i < count; ++i)
        ASSERT_EQ(storage_to_float(x.data()[i]), 0.0f) << "element " << i;
      EXPECT_TRUE(x.guards_intact());
    }
}

TEST(ElementwiseKernels, FillZeroClearsExactlyCountElements) {
  expect_fill_zero_clears_exactly_count<float>();
  expect_fill_zero_clears_exactly_count<__nv_bfloat16>();
}

TEST(ElementwiseKernels, InPlaceAddWithOutputAliasingAnInput) {
  const std::int64_t count = 1003;
  const Inputs inputs = make_inputs<float>(count, 30);
  std::vector<float> a = inputs.a.to_vector();
  const std::vector<float> b = inputs.b.to_vector();
  kernels::elementwise_add(ElementwiseBinaryArgs<float>{count, a.data(), b.data(), a.data()},
                           nullptr);
  Tensor expected = Tensor::zeros({count});
  make_serial_backend()->add(inputs.a, inputs.b, expected);
  EXPECT_TRUE(tensors_close(Tensor::from_vector(a, {count}), expected, 0.0, kFloatRtol));
}

// More 16-byte groups than the capped grid has threads: each thread loops.
TEST(ElementwiseKernels, GridStrideLoopCoversBuffersLargerThanTheCappedGrid) {
  const std::int64_t count =
      kernels::kElementwiseMaxBlocks * kernels::kElementwiseThreads * 4 * 2 + 4 * 300 + 3;
  const Inputs inputs = make_inputs<float>(count, 40);
  const std::vector<float> a = inputs.a.to_vector(), b = inputs.b.to_vector();
  std::vector<float> out(static_cast<std::size_t>(count), -7.0f);
  kernels::elementwise_add(ElementwiseBinaryArgs<float>{count, a.data(), b.data(), out.data()},
                           nullptr);
  Tensor expected = Tensor::zeros({count});
  make_serial_backend()->add(inputs.a, inputs.b, expected);
  EXPECT_TRUE(tensors_close(Tensor::from_vector(out, {count}), expected, 0.0, kFloatRtol));
}

// to_bf16 (matmul's operands under training.precision bf16): every element
// the host's round-to-nearest-even bf16 (seqtrain/bfloat16.h), ties, NaN,
// infinities and overflow included, and nothing past count written.
TEST(ElementwiseKernels, ToBf16RoundsLikeTheHostAndWritesExactlyCount) {
  std::vector<float> values = {1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, -0.0f, 3.4e38f,
                               std::numeric_limits<float>::infinity(),
                               std::numeric_limits<float>::quiet_NaN(), 1e-40f};
  const Tensor random = random_tensor({1003}, 50, 3.0f);
  for (float v : random.span<float>()) values.push_back(v);
  const std::int64_t count = static_cast<std::int64_t>(values.size());
  GuardedBuffer<__nv_bfloat16> out(count, 1, storage_from_float<__nv_bfloat16>(-7.0f));
  kernels::elementwise_to_bf16({count, values.data(), out.data()}, nullptr);
  for (std::int64_t i = 0; i < count; ++i) {
    const float expected = round_to_bf16(values[static_cast<std::size_t>(i)]);
    const float actual = storage_to_float(out.data()[i]);
    if (std::isnan(expected))
      EXPECT_TRUE(std::isnan(actual)) << "element " << i;
    else
      EXPECT_EQ(actual, expected) << "element " << i << " of " << values[static_cast<std::size_t>(i)];
  }
  EXPECT_TRUE(out.guards_intact());
}

}  // namespace
}  // namespace seqtrain::testing
