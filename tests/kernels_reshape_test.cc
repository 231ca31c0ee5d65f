// The reshaping kernels (kernels/reshape.cu) on the CUDA emulation, held
// against the serial backend's transpose01, concat_last, split_last,
// sequence_last and sequence_last_backward. They copy values, so results must
// be exact, in fp32, bf16 and (transpose01) int32. Row widths 37, 64 and 129
// and row counts not multiples of the 8 rows per block; packed lengths 1..T,
// forward and reverse; a bad length is reported through the flag.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernel_test_storage.h"
#include "kernels/reshape.h"
#include "test_support.h"

namespace seqtrain::testing {
namespace {

using kernels::ConcatLastArgs;
using kernels::SequenceLastArgs;
using kernels::SequenceLastBackwardArgs;
using kernels::SplitLastArgs;
using kernels::Transpose01Args;

template <class Storage>
std::string storage_name() {
  return std::is_same_v<Storage, float> ? "fp32" : "bf16";
}

template <class Storage>
void expect_transpose_matches_serial(std::int64_t a, std::int64_t b, std::int64_t c) {
  SCOPED_TRACE(storage_name<Storage>() + " " + shape_string({a, b, c}));
  const Tensor x = rounded_to_storage<Storage>(random_tensor({a, b, c}, 1));
  const std::vector<Storage> x_values = storage_values<Storage>(x);
  GuardedBuffer<Storage> out(a * b * c, 0, storage_from_float<Storage>(-7.0f));
  kernels::transpose01(Transpose01Args<Storage>{a, b, c, x_values.data(), out.data()}, nullptr);
  Tensor expected = Tensor::zeros({b, a, c});
  make_serial_backend()->transpose01(x, expected);
  EXPECT_TRUE(tensors_close(storage_tensor(out.data(), {b, a, c}), expected, 0.0, 0.0));
  EXPECT_TRUE(out.guards_intact());
}

TEST(ReshapeKernels, Transpose01MatchesSerial) {
  for (auto [a, b, c] : {std::tuple<std::int64_t, std::int64_t, std::int64_t>{5, 7, 37},
                         {3, 11, 129},
                         {1, 1, 1},
                         {9, 2, 64}}) {
    expect_transpose_matches_serial<float>(a, b, c);
    expect_transpose_matches_serial<__nv_bfloat16>(a, b, c);
  }
}

TEST(ReshapeKernels, Transpose01MovesInt32Ids) {
  const Tensor ids = random_ids({5, 7, 3}, 1000, 2);
  std::vector<std::int32_t> out(5 * 7 * 3, -7);
  kernels::transpose01(Transpose01Args<std::int32_t>{5, 7, 3, ids.data<std::int32_t>(), out.data()},
                       nullptr);
  Tensor expected = Tensor::zeros({7, 5, 3}, DType::i32);
  make_serial_backend()->transpose01(ids, expected);
  EXPECT_EQ(out, std::vector<std::int32_t>(expected.span<std::int32_t>().begin(),
                                           expected.span<std::int32_t>().end()));
}

template <class Storage>
void expect_concat_and_split_match_serial(std::int64_t rows, std::int32_t wa, std::int32_t wb) {
  SCOPED_TRACE(storage_name<Storage>() + " rows " + std::to_string(rows) + " widths " +
               std::to_string(wa) + " + " + std::to_string(wb));
  auto serial = make_serial_backend();
  const std::int32_t width = wa + wb;
  const Tensor a = rounded_to_storage<Storage>(random_tensor({rows, wa}, 3));
  const Tensor b = rounded_to_storage<Storage>(random_tensor({rows, wb}, 4));
  const std::vector<Storage> a_values = storage_values<Storage>(a);
  const std::vector<Storage> b_values = storage_values<Storage>(b);
  GuardedBuffer<Storage> out(rows * width, 0, storage_from_float<Storage>(-7.0f));
  kernels::concat_last(
      ConcatLastArgs<Storage>{rows, wa, wb, a_values.data(), b_values.data(), out.data()}, nullptr);
  Tensor expected = Tensor::zeros({rows, width});
  serial->concat_last(a, b, expected);
  EXPECT_TRUE(tensors_close(storage_tensor(out.data(), {rows, width}), expected, 0.0, 0.0));
  EXPECT_TRUE(out.guards_intact());

  const Tensor x = rounded_to_storage<Storage>(random_tensor({rows, width}, 5));
  const std::vector<Storage> x_values = storage_values<Storage>(x);
  GuardedBuffer<Storage> part_a(rows * wa, 0, storage_from_float<Storage>(-7.0f));
  GuardedBuffer<Storage> part_b(rows * wb, 0, storage_from_float<Storage>(-7.0f));
  kernels::split_last(
      SplitLastArgs<Storage>{rows, wa, wb, x_values.data(), part_a.data(), part_b.data()}, nullptr);
  Tensor expected_a = Tensor::zeros({rows, wa}), expected_b = Tensor::zeros({rows, wb});
  serial->split_last(x, expected_a, expected_b);
  EXPECT_TRUE(tensors_close(storage_tensor(part_a.data(), {rows, wa}), expected_a, 0.0, 0.0));
  EXPECT_TRUE(tensors_close(storage_tensor(part_b.data(), {rows, wb}), expected_b, 0.0, 0.0));
  EXPECT_TRUE(part_a.guards_intact());
  EXPECT_TRUE(part_b.guards_intact());
}

TEST(ReshapeKernels, ConcatLastAndSplitLastMatchSerial) {
  for (auto [rows, wa, wb] :
       {std::tuple<std::int64_t, std::int32_t, std::int32_t>{45, 37, 64}, {9, 129, 1}, {1, 3, 5}}) {
    expect_concat_and_split_match_serial<float>(rows, wa, wb);
    expect_concat_and_split_match_serial<__nv_bfloat16>(rows, wa, wb);
  }
}

constexpr std::int32_t kSteps = 6, kBatch = 11;
const std::vector<std::int32_t> kLengths = {6, 1, 3, 6, 2, 5, 4, 6, 1, 2, 3};

template <class Storage>
void expect_sequence_last_matches_serial(std::int32_t width, bool reverse) {
  SCOPED_TRACE(storage_name<Storage>() + " width " + std::to_string(width) +
               (reverse ? " reverse" : " forward"));
  auto serial = make_serial_backend();
  const Tensor lengths = Tensor::from_vector(kLengths, {kBatch});
  unsigned long long flag = 0;

  const Tensor x = rounded_to_storage<Storage>(random_tensor({kSteps, kBatch, width}, 6));
  const std::vector<Storage> x_values = storage_values<Storage>(x);
  GuardedBuffer<Storage> out(std::int64_t{kBatch} * width, 0, storage_from_float<Storage>(-7.0f));
  kernels::sequence_last(SequenceLastArgs<Storage>{kSteps, kBatch, width, reverse, kLengths.data(),
                                                   x_values.data(), out.data(), &flag},
                         nullptr);
  Tensor expected = Tensor::zeros({kBatch, width});
  serial->sequence_last(x, lengths, reverse, expected);
  EXPECT_TRUE(tensors_close(storage_tensor(out.data(), {kBatch, width}), expected, 0.0, 0.0));
  EXPECT_TRUE(out.guards_intact());

  const Tensor dout = rounded_to_storage<Storage>(random_tensor({kBatch, width}, 7));
  const std::vector<Storage> dout_values = storage_values<Storage>(dout);
  const std::int64_t dx_count = std::int64_t{kSteps} * kBatch * width;
  GuardedBuffer<Storage> dx(dx_count, 0, storage_from_float<Storage>(-7.0f));
  for (std::int64_t i = 0; i < dx_count; ++i) dx.data()[i] = storage_from_float<Storage>(55.0f);
  kernels::sequence_last_backward(
      SequenceLastBackwardArgs<Storage>{kSteps, kBatch, width, reverse, kLengths.data(),
                                        dout_values.data(), dx.data(), &flag},
      nullptr);
  Tensor expected_dx = Tensor::zeros({kSteps, kBatch, width});
  serial->sequence_last_backward(dout, lengths, reverse, expected_dx);
  EXPECT_TRUE(
      tensors_close(storage_tensor(dx.data(), {kSteps, kBatch, width}), expected_dx, 0.0, 0.0));
  EXPECT_TRUE(dx.guards_intact());
  EXPECT_EQ(flag, 0u) << "no length is bad";
}

TEST(ReshapeKernels, SequenceLastForwardAndBackwardMatchSerial) {
  for (std::int32_t width : {37, 64, 129})
    for (bool reverse : {false, true}) {
      expect_sequence_last_matches_serial<float>(width, reverse);
      expect_sequence_last_matches_serial<__nv_bfloat16>(width, reverse);
    }
}

TEST(ReshapeKernels, BadLengthsAreReportedAndAddressNothing) {
  const std::int32_t width = 37;
  std::vector<std::int32_t> lengths = kLengths;
  lengths[4] = 0;
  lengths[8] = kSteps + 1;
  const Tensor x = random_tensor({kSteps, kBatch, width}, 8);
  std::vector<float> out(std::size_t{kBatch} * width, -7.0f);
  unsigned long long flag = 0;
  kernels::sequence_last(SequenceLastArgs<float>{kSteps, kBatch, width, false, lengths.data(),
                                                 x.data<float>(), out.data(), &flag},
                         nullptr);
  kernels::BadIndex bad = kernels::decode_bad_index(flag);
  ASSERT_TRUE(bad.found);
  EXPECT_EQ(bad.position, 4);
  EXPECT_EQ(bad.value, 0);
  for (std::int64_t b : {4, 8})
    for (std::int32_t j = 0; j < width; ++j) EXPECT_EQ(out[b * width + j], 0.0f);
  Tensor unused = Tensor::zeros({kBatch, width});
  EXPECT_THROW(make_serial_backend()->sequence_last(x, Tensor::from_vector(lengths, {kBatch}),
                                                    false, unused),
               DataError);

  const Tensor dout = random_tensor({kBatch, width}, 9);
  std::vector<float> dx(std::size_t{kSteps} * kBatch * width, 55.0f);
  flag = 0;
  kernels::sequence_last_backward(
      SequenceLastBackwardArgs<float>{kSteps, kBatch, width, true, lengths.data(),
                                      dout.data<float>(), dx.data(), &flag},
      nullptr);
  bad = kernels::decode_bad_index(flag);
  ASSERT_TRUE(bad.found);
  EXPECT_EQ(bad.position, 4);
  for (std::int32_t t = 0; t < kSteps; ++t)
    for (std::int64_t b : {4, 8})
      for (std::int32_t j = 0; j < width; ++j)
        EXPECT_EQ(dx[(t * kBatch + b) * width + j], 0.0f) << "t " << t << " b " << b;
}

}  // namespace
}  // namespace seqtrain::testing
