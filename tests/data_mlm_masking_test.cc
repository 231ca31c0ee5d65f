#include <gtest/gtest.h>

#include <cmath>

#include "data/mlm_masking.h"
#include "data/sentencepiece_tokenizer.h"
#include "data_test_support.h"
#include "seqtrain/error.h"

namespace seqtrain {
namespace {

using testing::expect_error_mentions;

constexpr std::int64_t kVocabSize = 1000;

// [CLS] regular tokens with a [SEP] and an [UNK] inside [SEP] [PAD]... : a
// packed row as the dataset makes it. Regular ids are drawn from their own
// stream so they do not correlate with the masking draws.
std::vector<std::int32_t> packed_row(std::int64_t length, std::int64_t padded_to,
                                     std::uint64_t row) {
  Rng rng(123, row);
  std::vector<std::int32_t> ids(static_cast<std::size_t>(padded_to), kPadTokenId);
  ids[0] = kClsTokenId;
  for (std::int64_t t = 1; t + 1 < length; ++t)
    ids[static_cast<std::size_t>(t)] =
        kFirstRegularTokenId +
        static_cast<std::int32_t>(rng.next_below(kVocabSize - kFirstRegularTokenId));
  ids[static_cast<std::size_t>(length / 2)] = kSepTokenId;
  ids[static_cast<std::size_t>(length / 3)] = kUnknownTokenId;
  ids[static_cast<std::size_t>(length - 1)] = kSepTokenId;
  return ids;
}

TEST(MlmMasking, CapacityIsFifteenPercentOfTheContent) {
  EXPECT_EQ(mlm_masked_per_sequence(128, 0.15), 19);  // round(0.15 * 126) = 18.9
  EXPECT_EQ(mlm_masked_per_sequence(512, 0.15), 77);  // round(0.15 * 510 = 76.5), half away from 0
  EXPECT_EQ(mlm_masked_per_sequence(3, 0.15), 1);
  EXPECT_TRUE(is_maskable_token(kUnknownTokenId));
  EXPECT_TRUE(is_maskable_token(kFirstRegularTokenId));
  for (std::int32_t special : {kPadTokenId, kClsTokenId, kSepTokenId, kMaskTokenId})
    EXPECT_FALSE(is_maskable_token(special));
}

// Over 4000 rows of about 60 maskable tokens: the counts BERT's recipe
// promises, each within a few standard deviations.
TEST(MlmMasking, StatisticsFollowTheRecipe) {
  const MlmMaskingOptions options;  // 0.15, 0.8, 0.1
  const std::int64_t padded_to = 80;
  const std::int64_t capacity = mlm_masked_per_sequence(padded_to, options.mask_rate);
  std::int64_t maskable_total = 0;
  std::int64_t chosen_total = 0;
  std::int64_t became_mask = 0;
  std::int64_t became_random = 0;
  std::int64_t unchanged = 0;
  std::vector<std::int64_t> chosen_at(static_cast<std::size_t>(padded_to), 0);
  std::vector<std::int64_t> maskable_at(static_cast<std::size_t>(padded_to), 0);
  for (std::uint64_t row = 0; row < 4000; ++row) {
    const std::int64_t length = 40 + static_cast<std::int64_t>(row % 41);  // 40..80
    const std::vector<std::int32_t> original = packed_row(length, padded_to, row);
    std::vector<std::int32_t> ids = original;
    Rng rng(5, 77);
    rng.set_position(row << 24);
    const MlmMaskedTokens masked = mlm_mask_tokens(
        std::span(ids).first(static_cast<std::size_t>(length)), kVocabSize, capacity, options, rng);
    std::int64_t maskable = 0;
    for (std::int64_t t = 0; t < length; ++t)
      if (is_maskable_token(original[static_cast<std::size_t>(t)])) {
        ++maskable;
        ++maskable_at[static_cast<std::size_t>(t)];
      }
    // Exactly round(15%) of the maskable tokens, in increasing order.
    ASSERT_EQ(static_cast<std::int64_t>(masked.positions.size()),
              std::llround(0.15 * static_cast<double>(maskable)));
    ASSERT_TRUE(std::is_sorted(masked.positions.begin(), masked.positions.end()));
    ASSERT_EQ(masked.labels.size(), masked.positions.size());
    maskable_total += maskable;
    chosen_total += static_cast<std::int64_t>(masked.positions.size());
    std::vector<bool> is_chosen(static_cast<std::size_t>(padded_to), false);
    for (std::size_t i = 0; i < masked.positions.size(); ++i) {
      const auto t = static_cast<std::size_t>(masked.positions[i]);
      is_chosen[t] = true;
      ++chosen_at[t];
      ASSERT_TRUE(is_maskable_token(original[t])) << "special token masked at " << t;
      ASSERT_EQ(masked.labels[i], original[t]);
      if (ids[t] == kMaskTokenId) {
        ++became_mask;
      } else if (ids[t] == original[t]) {
        ++unchanged;  // includes the rare random draw of the same id
      } else {
        ++became_random;
        ASSERT_GE(ids[t], kFirstRegularTokenId) << "a random replacement is a special token";
        ASSERT_LT(ids[t], kVocabSize);
      }
    }
    // Positions not chosen, padding included, keep their ids.
    for (std::int64_t t = 0; t < padded_to; ++t) {
      if (!is_chosen[static_cast<std::size_t>(t)]) {
        ASSERT_EQ(ids[static_cast<std::size_t>(t)], original[static_cast<std::size_t>(t)]);
      }
    }
  }
  const double chosen = static_cast<double>(chosen_total);
  EXPECT_NEAR(chosen / static_cast<double>(maskable_total), 0.15, 0.005);
  // Binomial standard deviations over ~36000 chosen tokens are about 0.002.
  EXPECT_NEAR(static_cast<double>(became_mask) / chosen, 0.8, 0.01);
  EXPECT_NEAR(static_cast<double>(became_random) / chosen, 0.1, 0.01);
  EXPECT_NEAR(static_cast<double>(unchanged) / chosen, 0.1, 0.01);
  // Uniform over positions: every position with enough maskable rows is
  // chosen about 15% of the time (sd about 0.006 at 4000 rows).
  for (std::int64_t t = 1; t < 39; ++t) {
    const double share = static_cast<double>(chosen_at[static_cast<std::size_t>(t)]) /
                         static_cast<double>(maskable_at[static_cast<std::size_t>(t)]);
    EXPECT_NEAR(share, 0.15, 0.03) << "position " << t;
  }
}

TEST(MlmMasking, SameDrawsGiveTheSameMasksAndOtherDrawsOthers) {
  const std::vector<std::int32_t> original = packed_row(64, 64, 1);
  auto mask_at = [&](std::uint64_t stream, std::uint64_t position) {
    std::vector<std::int32_t> ids = original;
    Rng rng(9, stream);
    rng.set_position(position);
    MlmMaskedTokens masked = mlm_mask_tokens(ids, kVocabSize, 20, {}, rng);
    return std::make_pair(ids, masked.positions);
  };
  EXPECT_EQ(mask_at(1, 0), mask_at(1, 0));
  EXPECT_NE(mask_at(1, 0).second, mask_at(2, 0).second);
  EXPECT_NE(mask_at(1, 0).second, mask_at(1, 1 << 24).second);
}

TEST(MlmMasking, ShortAndSpecialOnlyRows) {
  Rng rng(1, 1);
  std::vector<std::int32_t> only_special = {kClsTokenId, kSepTokenId, kPadTokenId};
  EXPECT_TRUE(mlm_mask_tokens(only_special, kVocabSize, 4, {}, rng).positions.empty());
  EXPECT_EQ(only_special, (std::vector<std::int32_t>{kClsTokenId, kSepTokenId, kPadTokenId}));
  // One maskable token: at least one is always chosen.
  std::vector<std::int32_t> one = {kClsTokenId, 17, kSepTokenId};
  const MlmMaskedTokens masked = mlm_mask_tokens(one, kVocabSize, 1, {}, rng);
  ASSERT_EQ(masked.positions, std::vector<std::int32_t>{1});
  EXPECT_EQ(masked.labels, std::vector<std::int32_t>{17});
}

TEST(MlmMasking, OptionsOutOfRangeAreConfigErrors) {
  expect_error_mentions<ConfigError>([] { validate_mlm_masking_options({.mask_rate = 0.0}); },
                                     {"rate", "0"});
  expect_error_mentions<ConfigError>(
      [] { validate_mlm_masking_options({.replace_with_mask = 0.9, .replace_with_random = 0.2}); },
      {"more than 1"});
  EXPECT_NO_THROW(validate_mlm_masking_options({}));
}

}  // namespace
}  // namespace seqtrain
