#include <gtest/gtest.h>

#include "seqtrain/rng.h"
#include "seqtrain/tensor.h"

namespace seqtrain {
namespace {

// Known-answer vectors of Philox4x32-10 from the Random123 distribution (kat_vectors).
TEST(Philox, MatchesRandom123KnownAnswers) {
  auto zero = philox4x32(0, 0, 0);
  EXPECT_EQ(zero[0], 0x6627e8d5u);
  EXPECT_EQ(zero[1], 0xe169c58du);
  EXPECT_EQ(zero[2], 0xbc57ac4cu);
  EXPECT_EQ(zero[3], 0x9b00dbd8u);
  auto ones = philox4x32(0xffffffffffffffffull, 0xffffffffffffffffull, 0xffffffffffffffffull);
  EXPECT_EQ(ones[0], 0x408f276du);
  EXPECT_EQ(ones[1], 0x41c83b0eu);
  EXPECT_EQ(ones[2], 0xa20bc7c6u);
  EXPECT_EQ(ones[3], 0x6d5451fdu);
}

TEST(Rng, StreamsAreIndependentOfDrawOrder) {
  Rng sequential(42, 3);
  std::vector<float> drawn;
  for (int i = 0; i < 10; ++i) drawn.push_back(sequential.next_uniform());
  Rng random_access(42, 3);
  for (int i = 9; i >= 0; --i) EXPECT_EQ(random_access.uniform_at(i), drawn[i]);
  EXPECT_NE(Rng(42, 4).uniform_at(0), drawn[0]);
}

TEST(Rng, UniformMeanAndNormalVarianceAreRight) {
  Rng rng(1, 0);
  double sum = 0, sum_sq = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) sum += rng.next_uniform();
  EXPECT_NEAR(sum / n, 0.5, 0.01);
  sum = 0;
  for (int i = 0; i < n; ++i) {
    double z = rng.next_normal();
    sum += z;
    sum_sq += z * z;
  }
  EXPECT_NEAR(sum / n, 0.0, 0.02);
  EXPECT_NEAR(sum_sq / n, 1.0, 0.02);
}

TEST(Tensor, StorageIsAlignedAndReshapeSharesIt) {
  Tensor tensor = Tensor::zeros({3, 5});
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(tensor.raw()) % kTensorAlignment, 0u);
  Tensor view = tensor.reshaped({15});
  view.data<float>()[7] = 2.5f;
  EXPECT_EQ(tensor.data<float>()[7], 2.5f);
  EXPECT_THROW(tensor.data<std::int32_t>(), InternalError);
  EXPECT_THROW(tensor.reshaped({4, 4}), InternalError);
}

}  // namespace
}  // namespace seqtrain
