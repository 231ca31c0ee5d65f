#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "data/adding_problem.h"
#include "data_test_support.h"
#include "seqtrain/error.h"
#include "seqtrain/rng.h"

namespace seqtrain {
namespace {

using testing::expect_batches_identical;
using testing::expect_error_mentions;

float feature(const SequenceBatch& batch, std::int64_t t, std::int64_t b, std::int64_t f) {
  return batch.features.data<float>()[(t * batch.features.dim(1) + b) * 2 + f];
}

// Checks one batch against the task's definition and returns the marker steps
// of each row.
std::vector<std::pair<std::int64_t, std::int64_t>> check_adding_batch(const SequenceBatch& batch,
                                                                      std::int64_t steps) {
  const std::int64_t rows = batch.features.dim(1);
  EXPECT_EQ(batch.features.shape(), (Shape{steps, rows, 2}));
  EXPECT_EQ(batch.targets.shape(), (Shape{rows, 1}));
  EXPECT_EQ(batch.lengths.shape(), (Shape{rows}));
  EXPECT_FALSE(batch.tokens.defined());
  EXPECT_FALSE(batch.continues_previous);
  std::vector<std::pair<std::int64_t, std::int64_t>> markers;
  for (std::int64_t b = 0; b < rows; ++b) {
    EXPECT_EQ(batch.lengths.data<std::int32_t>()[b], steps);
    std::vector<std::int64_t> marked;
    double marked_sum = 0;
    for (std::int64_t t = 0; t < steps; ++t) {
      const float value = feature(batch, t, b, 0), marker = feature(batch, t, b, 1);
      EXPECT_GE(value, 0.0f);
      EXPECT_LT(value, 1.0f);
      EXPECT_TRUE(marker == 0.0f || marker == 1.0f) << marker;
      if (marker == 1.0f) {
        marked.push_back(t);
        marked_sum += value;
      }
    }
    EXPECT_EQ(marked.size(), 2u) << "row " << b;
    if (marked.size() != 2) continue;
    EXPECT_LT(marked[0], steps / 2);
    EXPECT_GE(marked[1], steps / 2);
    EXPECT_FLOAT_EQ(batch.targets.data<float>()[b], static_cast<float>(marked_sum));
    markers.emplace_back(marked[0], marked[1]);
  }
  return markers;
}

TEST(AddingProblem, EveryRowHasOneMarkerInEachHalfAndTargetIsTheirSum) {
  for (std::int64_t steps : {2, 7, 12}) {
    SCOPED_TRACE(steps);
    AddingProblem problem({.sequence_length = steps, .batch_size = 9, .seed = 3});
    for (int k = 0; k < 5; ++k) check_adding_batch(problem.next_training_batch(), steps);
    for (const SequenceBatch& batch : problem.validation_batches(2))
      check_adding_batch(batch, steps);
  }
}

TEST(AddingProblem, TargetMeanIsOneAndPredictingItScoresOneSixth) {
  // Target = U1 + U2: mean 1, variance 1/12 + 1/12 = 1/6. Over n = 20000 examples
  // the standard errors are about 0.003 (mean) and 0.0014 (mean squared error).
  AddingProblem problem({.sequence_length = 10, .batch_size = 100, .seed = 11});
  double sum = 0, squared_error = 0;
  std::int64_t count = 0;
  for (int k = 0; k < 200; ++k) {
    SequenceBatch batch = problem.next_training_batch();
    for (float target : batch.targets.span<float>()) {
      sum += target;
      squared_error += (target - 1.0) * (target - 1.0);
      ++count;
    }
  }
  EXPECT_NEAR(sum / count, 1.0, 0.015);
  EXPECT_NEAR(squared_error / count, 1.0 / 6.0, 0.008);
}

TEST(AddingProblem, MarkerStepsAreUniformWithinTheirHalves) {
  // 12 steps: each half has 6 steps, each hit with probability 1/6; over 6000
  // rows a count has mean 1000 and standard deviation about 29.
  const std::int64_t steps = 12;
  AddingProblem problem({.sequence_length = steps, .batch_size = 100, .seed = 5});
  std::vector<int> hits(steps, 0);
  for (int k = 0; k < 60; ++k)
    for (auto [first, second] : check_adding_batch(problem.next_training_batch(), steps)) {
      ++hits[first];
      ++hits[second];
    }
  for (std::int64_t t = 0; t < steps; ++t) EXPECT_NEAR(hits[t], 1000, 150) << "step " << t;
}

TEST(AddingProblem, ValuesAreTheDocumentedPhiloxDraws) {
  const std::int64_t steps = 6, batch_size = 3;
  AddingProblem problem({.sequence_length = steps, .batch_size = batch_size, .seed = 42});
  SequenceBatch batch = problem.training_batch(4);
  const Rng rng(42, AddingProblem::kTrainingStream);
  for (std::int64_t b = 0; b < batch_size; ++b) {
    const std::uint64_t example = 4 * batch_size + b;
    for (std::int64_t t = 0; t < steps; ++t)
      EXPECT_EQ(feature(batch, t, b, 0), rng.uniform_at(example * (steps + 2) + t));
    const std::int64_t first_marker = rng.bits_at(example * (steps + 2) + steps) % 3;
    EXPECT_EQ(feature(batch, first_marker, b, 1), 1.0f);
  }
}

TEST(AddingProblem, BatchIsAPureFunctionOfSeedAndIndex) {
  AddingProblemOptions options{.sequence_length = 8, .batch_size = 4, .seed = 9};
  AddingProblem sequential(options);
  std::vector<SequenceBatch> drawn;
  for (int k = 0; k < 5; ++k) drawn.push_back(sequential.next_training_batch());
  AddingProblem random_access(options);
  for (int k = 4; k >= 0; --k) expect_batches_identical(random_access.training_batch(k), drawn[k]);
  options.seed = 10;
  EXPECT_FALSE(testing::tensors_identical(AddingProblem(options).training_batch(0).features,
                                          drawn[0].features));
  EXPECT_FALSE(testing::tensors_identical(drawn[1].features, drawn[0].features));
}

TEST(AddingProblem, RestoredPositionGivesIdenticalNextBatches) {
  AddingProblemOptions options{.sequence_length = 8, .batch_size = 4, .seed = 9};
  AddingProblem original(options);
  for (int k = 0; k < 7; ++k) original.next_training_batch();
  const std::string saved = original.position_json().dump();
  AddingProblem resumed(options);
  resumed.restore_position_json(nlohmann::json::parse(saved));
  EXPECT_EQ(resumed.next_batch_index(), 7);
  for (int k = 0; k < 3; ++k)
    expect_batches_identical(resumed.next_training_batch(), original.next_training_batch());
}

TEST(AddingProblem, PositionFromOtherSettingsIsRejected) {
  const nlohmann::json saved =
      AddingProblem({.sequence_length = 8, .batch_size = 4, .seed = 9}).position_json();
  AddingProblem other({.sequence_length = 8, .batch_size = 5, .seed = 9});
  expect_error_mentions<CheckpointError>([&] { other.restore_position_json(saved); },
                                         {"batch size 4", "same settings"});
  expect_error_mentions<CheckpointError>(
      [&] {
        other.restore_position_json(nlohmann::json{{"batch", -1}});
      },
      {"\"batch\""});
}

TEST(AddingProblem, ValidationSetIsFixedSeparateAndKeepsItsLastPartialBatch) {
  AddingProblem problem(
      {.sequence_length = 10, .batch_size = 32, .seed = 1, .validation_examples = 70});
  ASSERT_EQ(problem.validation_batch_count(), 3);
  std::vector<SequenceBatch> validation = problem.validation_batches();
  ASSERT_EQ(validation.size(), 3u);
  EXPECT_EQ(validation[0].batch_size(), 32);
  EXPECT_EQ(validation[2].batch_size(), 6);
  check_adding_batch(validation[2], 10);
  problem.next_training_batch();
  std::vector<SequenceBatch> again = problem.validation_batches();
  for (int k = 0; k < 3; ++k) expect_batches_identical(again[k], validation[k]);
  EXPECT_FALSE(
      testing::tensors_identical(validation[0].features, problem.training_batch(0).features));
  EXPECT_EQ(problem.validation_batches(1).size(), 1u);
  EXPECT_TRUE(AddingProblem({.sequence_length = 10, .validation_examples = 0})
                  .validation_batches()
                  .empty());
}

TEST(AddingProblem, OptionsOutOfRangeAreConfigErrors) {
  EXPECT_THROW(AddingProblem({.sequence_length = 1}), ConfigError);
  EXPECT_THROW(AddingProblem({.batch_size = 0}), ConfigError);
  EXPECT_THROW(AddingProblem({.validation_examples = -1}), ConfigError);
}

}  // namespace
}  // namespace seqtrain
