// The masked-LM validation metrics (src/tasks/mlm_validation_metrics.h) and
// the runner's predicted tokens, on batches and logits built by hand: every
// expected value is counted out in the comments.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "data/mlm_batch.h"
#include "data/sentencepiece_tokenizer.h"
#include "data/sequence_batch.h"
#include "bert_test_support.h"
#include "seqtrain/parameters.h"
#include "tasks/mlm_runner.h"
#include "tasks/mlm_validation_metrics.h"

namespace seqtrain {
namespace {

constexpr std::int32_t kMask = kMaskTokenId;
constexpr std::int32_t kIgnore = kIgnoreTarget;

// B = 2, T = 6, P = 3 (slots 0-2 are row 0's, 3-5 row 1's).
//   row 0: [CLS] [MASK] 7 [MASK] [SEP] [PAD]
//     slot 0: position 1, [MASK] for 9     slot 1: position 2, 7 left unchanged
//     slot 2: position 3, [MASK] for 9
//   row 1: [CLS] 8 [MASK] 6 [SEP] [PAD]
//     slot 3: position 7, random 8 for 9   slot 4: position 8, [MASK] for 5
//     slot 5: unused (position 6, the row's [CLS]; label -100)
MlmBatch hand_built_batch() {
  MlmBatch batch;
  batch.input_ids = Tensor::from_vector(
      std::vector<std::int32_t>{kClsTokenId, kMask, 7, kMask, kSepTokenId, kPadTokenId, kClsTokenId,
                                8, kMask, 6, kSepTokenId, kPadTokenId},
      {2, 6});
  batch.token_type_ids = Tensor::zeros({2, 6}, DType::i32);
  batch.lengths = Tensor::from_vector(std::vector<std::int32_t>{5, 5}, {2});
  batch.masked_positions = Tensor::from_vector(std::vector<std::int32_t>{1, 2, 3, 7, 8, 6}, {6});
  batch.masked_labels = Tensor::from_vector(std::vector<std::int32_t>{9, 7, 9, 9, 5, kIgnore}, {6});
  batch.masked_count = 5;
  return batch;
}

TEST(MlmValidationMetrics, ScoresMaskInputsApartFromPositionsWithSomethingToCopy) {
  const MlmBatch batch = hand_built_batch();
  // Right at slots 0 ([MASK]), 1 (copied) and 3 (random); wrong at slots 2
  // and 4 ([MASK]); slot 5 is unused, its 9 must not count.
  MlmSlotPredictions slots;
  slots.tokens = {9, 7, 5, 9, 9, 9};
  slots.losses = {0.5, 0.1, 2.0, 1.0, 3.5, 0.0};
  TaskMetrics batch_metrics;
  batch_metrics.loss_sum = 5 * 2.0;
  batch_metrics.rows = 5;
  batch_metrics.correct = 3;
  batch_metrics.tokens = 10;

  MlmValidationMetrics metrics;
  metrics.add(batch, batch_metrics, slots);
  const nlohmann::json record = metrics.record(6);
  EXPECT_EQ(record.at("masked_tokens"), 5);
  EXPECT_DOUBLE_EQ(record.at("mlm_accuracy").get<double>(), 3.0 / 5);
  EXPECT_DOUBLE_EQ(record.at("mlm_loss").get<double>(), 2.0);
  EXPECT_DOUBLE_EQ(record.at("perplexity").get<double>(), std::exp(2.0));
  // Labels 9, 7, 9, 9, 5: 9 three times.
  EXPECT_DOUBLE_EQ(record.at("majority_token_accuracy").get<double>(), 3.0 / 5);
  // [MASK] inputs: slots 0, 2, 4 (labels 9, 9, 5); slot 0 alone is right.
  EXPECT_EQ(record.at("mask_input_tokens"), 3);
  EXPECT_DOUBLE_EQ(record.at("mlm_accuracy_at_mask").get<double>(), 1.0 / 3);
  EXPECT_DOUBLE_EQ(record.at("majority_token_accuracy_at_mask").get<double>(), 2.0 / 3);
  // Losses at slots 0, 2, 4: (0.5 + 2 + 3.5) / 3.
  EXPECT_DOUBLE_EQ(record.at("mlm_loss_at_mask").get<double>(), 2.0);
  EXPECT_EQ(record.at("sequence_length"), 6);
}

TEST(MlmValidationMetrics, SumsBatchesAndCountsNoPredictionAsWrong) {
  const MlmBatch batch = hand_built_batch();
  TaskMetrics first;
  first.loss_sum = 5 * 2.0;
  first.rows = 5;
  first.correct = 5;
  TaskMetrics second = first;  // a non-finite loss: no predictions, nothing right
  second.loss_sum = 5 * 3.0;
  second.correct = 0;

  MlmSlotPredictions all_right;
  all_right.tokens = {9, 7, 9, 9, 5, 0};
  all_right.losses = {0.25, 0.25, 0.25, 0.25, 0.25, 0.0};

  MlmValidationMetrics metrics;
  metrics.add(batch, first, all_right);
  metrics.add(batch, second, MlmSlotPredictions{});
  const nlohmann::json record = metrics.record(6);
  EXPECT_EQ(record.at("masked_tokens"), 10);
  EXPECT_DOUBLE_EQ(record.at("mlm_accuracy").get<double>(), 5.0 / 10);
  EXPECT_DOUBLE_EQ(record.at("mlm_loss").get<double>(), 2.5);
  EXPECT_DOUBLE_EQ(record.at("majority_token_accuracy").get<double>(), 6.0 / 10);
  // 3 [MASK] inputs per batch, all right in the first, none in the second;
  // labels 9, 9, 5 twice.
  EXPECT_EQ(record.at("mask_input_tokens"), 6);
  EXPECT_DOUBLE_EQ(record.at("mlm_accuracy_at_mask").get<double>(), 3.0 / 6);
  EXPECT_DOUBLE_EQ(record.at("majority_token_accuracy_at_mask").get<double>(), 4.0 / 6);
  EXPECT_TRUE(std::isnan(record.at("mlm_loss_at_mask").get<double>()));
  // Without the failed batch the loss is the first batch's.
  MlmValidationMetrics finite;
  finite.add(batch, first, all_right);
  EXPECT_DOUBLE_EQ(finite.record(6).at("mlm_loss_at_mask").get<double>(), 0.25);
}

TEST(MlmValidationMetrics, NoBatchesGiveZeroes) {
  const nlohmann::json record = MlmValidationMetrics().record(128);
  EXPECT_EQ(record.at("masked_tokens"), 0);
  EXPECT_EQ(record.at("mask_input_tokens"), 0);
  EXPECT_EQ(record.at("mlm_accuracy_at_mask").get<double>(), 0.0);
  EXPECT_EQ(record.at("majority_token_accuracy_at_mask").get<double>(), 0.0);
  EXPECT_EQ(record.at("mlm_loss_at_mask").get<double>(), 0.0);
}

TEST(MlmRunnerPredictions, ArgmaxPerRowTakesTheFirstOfEqualMaximaAndSkipsUnusedSlots) {
  // Row 0: largest at 2; row 1: 0.5 at 1 and 3, the first wins; row 2: all
  // equal, so 0; row 3: largest at 3 (negative logits).
  const Tensor logits = Tensor::from_vector(std::vector<float>{0.1f, -1.0f, 2.0f, 1.9f,  //
                                                               0.0f, 0.5f, -0.5f, 0.5f,  //
                                                               1.0f, 1.0f, 1.0f, 1.0f,   //
                                                               -4.0f, -3.0f, -2.0f, -1.0f},
                                            {4, 4});
  const std::vector<std::int32_t> predicted = predicted_tokens_of(logits);
  EXPECT_EQ(predicted, (std::vector<std::int32_t>{2, 1, 0, 3}));
  // Labels: right, wrong, unused (its prediction 0 must not count), right.
  const Tensor labels = Tensor::from_vector(std::vector<std::int32_t>{2, 3, kIgnore, 3}, {4});
  EXPECT_EQ(count_correct_predictions(predicted, labels), 2);
}

TEST(MlmRunnerPredictions, SlotLossIsTheCrossEntropyOfTheLabelEvenForHugeLogits) {
  // exp of the rows {0, 0, ln 2} sums to 4: -log softmax is ln 2 at class 2
  // and ln 4 at class 0. Adding 1000 to a row changes nothing (unshifted exp
  // would overflow).
  const float ln2 = static_cast<float>(std::log(2.0));
  const Tensor logits = Tensor::from_vector(std::vector<float>{0.0f, 0.0f, ln2,                  //
                                                               0.0f, 0.0f, ln2,                  //
                                                               1000.0f, 1000.0f, 1000.0f + ln2,  //
                                                               5.0f, 1.0f, 2.0f},
                                            {4, 3});
  const Tensor labels = Tensor::from_vector(std::vector<std::int32_t>{2, 0, 0, kIgnore}, {4});
  const MlmSlotPredictions slots = slot_predictions_of(logits, labels);
  EXPECT_EQ(slots.tokens, (std::vector<std::int32_t>{2, 2, 2, 0}));
  ASSERT_EQ(slots.losses.size(), 4u);
  EXPECT_NEAR(slots.losses[0], std::log(2.0), 1e-6);
  EXPECT_NEAR(slots.losses[1], std::log(4.0), 1e-6);
  EXPECT_NEAR(slots.losses[2], std::log(4.0), 1e-4);  // 1000 + ln 2 in float: 6e-5 apart
  EXPECT_EQ(slots.losses[3], 0.0);                    // unused slot
}

// A phase change (training at a new length) drops the graphs of the old
// length, validation ones included: the runner then holds what a runner that
// only ever saw the new length holds. A short validation batch of the current
// length stays.
TEST(MlmRunnerGraphs, APhaseChangeDropsTheOldLengthsGraphs) {
  const BertSpec spec = testing::tiny_bert_spec();
  auto backend = make_serial_backend();
  auto planned_after = [&](const std::vector<std::int64_t>& lengths) {
    ParameterStore parameters(*backend);
    BertModel model(spec, parameters, 5);
    MlmRunner runner(model, *backend, parameters);
    RunContext context;
    for (const std::int64_t length : lengths) {
      const auto row = static_cast<std::int32_t>(length);
      runner.train_batch(testing::make_mlm_batch(spec.vocabulary_size, length, {row, row},
                                                 {2, 2}, 2, 7),
                         context);
      runner.evaluate_batch(
          testing::make_mlm_batch(spec.vocabulary_size, length, {row, row}, {2, 2}, 2, 8));
      runner.evaluate_batch(
          testing::make_mlm_batch(spec.vocabulary_size, length, {row}, {2}, 2, 9));
    }
    return runner.planned_bytes();
  };
  const auto only_long = planned_after({12});
  EXPECT_GT(only_long.first, 0);
  EXPECT_EQ(planned_after({8, 12}), only_long);
  EXPECT_GT(planned_after({8}).first, 0);
  EXPECT_LT(planned_after({8}).first, only_long.first);
}

}  // namespace
}  // namespace seqtrain
