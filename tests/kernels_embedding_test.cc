// The embedding kernels (kernels/embedding.cu) on the CUDA emulation, held
// against the serial backend's embedding_forward and embedding_backward for
// widths 37, 64 and 129 (a partial, an exact and a 4-step-plus-one warp sweep
// over the columns) and 45 ids (5 full blocks of 8 ids and one of 5), from a
// vocabulary of 11 so ids repeat and the backward's atomics meet. Bad ids are
// reported through the flag, with the smallest bad position.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernel_test_storage.h"
#include "kernels/embedding.h"
#include "test_support.h"

namespace seqtrain::testing {
namespace {

using kernels::EmbeddingBackwardArgs;
using kernels::EmbeddingForwardArgs;

constexpr std::int32_t kVocabulary = 11;
constexpr std::int64_t kIds = 45;
const std::int32_t kWidths[] = {37, 64, 129};

template <class Storage>
std::string describe(std::int32_t width) {
  return std::string(std::is_same_v<Storage, float> ? "fp32" : "bf16") + " width " +
         std::to_string(width);
}

struct ForwardResult {
  Tensor out;
  kernels::BadIndex bad;
};

template <class Storage>
ForwardResult run_forward(const Tensor& table, const std::vector<std::int32_t>& ids) {
  const auto count = static_cast<std::int64_t>(ids.size());
  const auto vocabulary = static_cast<std::int32_t>(table.dim(0));
  const auto width = static_cast<std::int32_t>(table.dim(1));
  // Guards around the table hold 99: a read through a bad id would copy them.
  GuardedBuffer<Storage> table_values(table.numel(), 0, storage_from_float<Storage>(99.0f));
  table_values.assign(storage_values<Storage>(table));
  GuardedBuffer<Storage> out(count * width, 0, storage_from_float<Storage>(-7.0f));
  unsigned long long flag = 0;
  kernels::embedding_forward(
      EmbeddingForwardArgs<Storage>{count, vocabulary, width, table_values.data(), ids.data(),
                                    out.data(), &flag},
      nullptr);
  EXPECT_TRUE(out.guards_intact());
  return {storage_tensor(out.data(), {count, width}), kernels::decode_bad_index(flag)};
}

template <class Storage>
void expect_forward_matches_serial(std::int32_t width) {
  SCOPED_TRACE(describe<Storage>(width));
  const Tensor table = rounded_to_storage<Storage>(random_tensor({kVocabulary, width}, 3));
  const Tensor ids = random_ids({kIds}, kVocabulary, 4);
  const ForwardResult kernel = run_forward<Storage>(
      table,
      std::vector<std::int32_t>(ids.span<std::int32_t>().begin(), ids.span<std::int32_t>().end()));
  Tensor expected = Tensor::zeros({kIds, width});
  make_serial_backend()->embedding_forward(table, ids, expected);
  EXPECT_TRUE(tensors_close(kernel.out, expected, 0.0, 0.0));  // a copy: exact
  EXPECT_FALSE(kernel.bad.found);
}

TEST(EmbeddingKernels, ForwardCopiesTheRowsSerialCopies) {
  for (std::int32_t width : kWidths) {
    expect_forward_matches_serial<float>(width);
    expect_forward_matches_serial<__nv_bfloat16>(width);
  }
}

TEST(EmbeddingKernels, BadIdsAreNotReadAndTheSmallestBadPositionIsReported) {
  const std::int32_t width = 37;
  const Tensor table = random_tensor({kVocabulary, width}, 5);
  const Tensor good_ids = random_ids({kIds}, kVocabulary, 6);
  std::vector<std::int32_t> ids(good_ids.span<std::int32_t>().begin(),
                                good_ids.span<std::int32_t>().end());
  ids[30] = -1;
  ids[9] = kVocabulary;  // the first bad one, in a different block than 30 and 40
  ids[40] = -2147483647 - 1;
  const ForwardResult kernel = run_forward<float>(table, ids);
  ASSERT_TRUE(kernel.bad.found);
  EXPECT_EQ(kernel.bad.position, 9);
  EXPECT_EQ(kernel.bad.value, kVocabulary);

  // Good rows as serial copies them (bad ones replaced by id 0 for serial, which
  // would throw), bad rows zero.
  std::vector<std::int32_t> repaired = ids;
  for (std::size_t i : {9u, 30u, 40u}) repaired[i] = 0;
  Tensor expected = Tensor::zeros({kIds, width});
  make_serial_backend()->embedding_forward(table, Tensor::from_vector(repaired, {kIds}), expected);
  std::vector<float> expected_values = expected.to_vector();
  for (std::int64_t i : {9, 30, 40})
    for (std::int32_t j = 0; j < width; ++j) expected_values[i * width + j] = 0.0f;
  EXPECT_TRUE(
      tensors_close(kernel.out, Tensor::from_vector(expected_values, {kIds, width}), 0.0, 0.0));

  // And the serial backend agrees that position 9 is bad.
  Tensor unused = Tensor::zeros({kIds, width});
  EXPECT_THROW(
      make_serial_backend()->embedding_forward(table, Tensor::from_vector(ids, {kIds}), unused),
      DataError);
}

TEST(EmbeddingKernels, BadIndexEncodingRoundTripsAndOrdersByPosition) {
  for (auto [position, value] : {std::pair<std::int64_t, std::int32_t>{0, -1},
                                 {7, 2147483647},
                                 {kernels::kMaxIndexedPositions - 1, -1},
                                 {123456789012 % kernels::kMaxIndexedPositions, -5}}) {
    const kernels::BadIndex bad =
        kernels::decode_bad_index(kernels::encode_bad_index(position, value));
    EXPECT_TRUE(bad.found);
    EXPECT_EQ(bad.position, position);
    EXPECT_EQ(bad.value, value);
  }
  EXPECT_GT(kernels::encode_bad_index(3, -1), kernels::encode_bad_index(4, 0));
  EXPECT_FALSE(kernels::decode_bad_index(0).found);
}

template <class Storage>
void expect_backward_matches_serial(std::int32_t width, std::int64_t count) {
  SCOPED_TRACE(describe<Storage>(width) + " ids " + std::to_string(count));
  const Tensor ids = random_ids({count}, kVocabulary, 7);
  const Tensor dout = rounded_to_storage<Storage>(random_tensor({count, width}, 8));
  const std::vector<Storage> dout_values = storage_values<Storage>(dout);
  GuardedBuffer<float> dtable(std::int64_t{kVocabulary} * width, 0, -7.0f);
  for (std::int64_t i = 0; i < dtable.count(); ++i) dtable.data()[i] = 55.0f;  // overwritten
  kernels::embedding_backward(
      EmbeddingBackwardArgs<Storage>{count, kVocabulary, width, ids.data<std::int32_t>(),
                                     dout_values.data(), dtable.data()},
      nullptr);
  Tensor expected = Tensor::zeros({kVocabulary, width});
  make_serial_backend()->embedding_backward(ids, dout, expected);
  // The inputs are identical; sums of up to ~10 terms in another order.
  EXPECT_TRUE(
      tensors_close(storage_tensor(dtable.data(), {kVocabulary, width}), expected, 1e-6, 1e-5));
  EXPECT_TRUE(dtable.guards_intact());
}

TEST(EmbeddingKernels, BackwardSumsRepeatedIdsLikeSerial) {
  for (std::int32_t width : kWidths) {
    expect_backward_matches_serial<float>(width, kIds);
    expect_backward_matches_serial<__nv_bfloat16>(width, kIds);
  }
  expect_backward_matches_serial<float>(37, 1);
}

TEST(EmbeddingKernels, BackwardSkipsBadIdsAndLeavesTheirRowsZero) {
  const std::int32_t width = 37;
  std::vector<std::int32_t> ids = {3, -1, 3, kVocabulary, 5};
  const auto count = static_cast<std::int64_t>(ids.size());
  const Tensor dout = random_tensor({count, width}, 9);
  std::vector<float> dtable(static_cast<std::size_t>(kVocabulary * width), 55.0f);
  kernels::embedding_backward(EmbeddingBackwardArgs<float>{count, kVocabulary, width, ids.data(),
                                                           dout.data<float>(), dtable.data()},
                              nullptr);
  std::vector<std::int32_t> good = {3, 3, 5};
  const std::vector<float> all = dout.to_vector();
  std::vector<float> good_rows;
  for (std::int64_t i : {0, 2, 4})
    good_rows.insert(good_rows.end(), all.begin() + i * width, all.begin() + (i + 1) * width);
  Tensor expected = Tensor::zeros({kVocabulary, width});
  make_serial_backend()->embedding_backward(Tensor::from_vector(good, {3}),
                                            Tensor::from_vector(good_rows, {3, width}), expected);
  EXPECT_TRUE(
      tensors_close(Tensor::from_vector(dtable, {kVocabulary, width}), expected, 1e-6, 1e-5));
}

}  // namespace
}  // namespace seqtrain::testing
