#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "data/mlm_dataset.h"
#include "data/mlm_phased_dataset.h"
#include "data/sequence_batch.h"
#include "data_mlm_test_support.h"
#include "data_test_support.h"
#include "seqtrain/error.h"

namespace seqtrain {
namespace {

using testing::expect_error_mentions;
using testing::generated_corpus;
using testing::kSmallVocabSize;
using testing::tensors_identical;

void expect_batches_identical(const MlmBatch& actual, const MlmBatch& expected) {
  EXPECT_TRUE(tensors_identical(actual.input_ids, expected.input_ids)) << "input_ids";
  EXPECT_TRUE(tensors_identical(actual.token_type_ids, expected.token_type_ids))
      << "token_type_ids";
  EXPECT_TRUE(tensors_identical(actual.lengths, expected.lengths)) << "lengths";
  EXPECT_TRUE(tensors_identical(actual.masked_positions, expected.masked_positions))
      << "masked_positions";
  EXPECT_TRUE(tensors_identical(actual.masked_labels, expected.masked_labels)) << "masked_labels";
  EXPECT_EQ(actual.masked_count, expected.masked_count);
}

std::vector<std::int32_t> as_vector(const Tensor& tensor) {
  return {tensor.data<std::int32_t>(), tensor.data<std::int32_t>() + tensor.numel()};
}

// Shards of a generated corpus, shared by every dataset a test builds.
class MlmDatasetTest : public ::testing::Test {
 protected:
  // Built once for the suite (no test is running yet, so no DataTestDirectory).
  static void SetUpTestSuite() {
    root_ = std::filesystem::path(::testing::TempDir()) /
            ("seqtrain_data_MlmDatasetTest_" + std::to_string(::getpid()));
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
    const std::filesystem::path corpus = root_ / "corpus.txt";
    std::ofstream(corpus, std::ios::binary) << generated_corpus(400);
    const SentencePieceTokenizer tokenizer =
        SentencePieceTokenizer::train(corpus, root_ / "tokenizer", {.vocab_size = kSmallVocabSize});
    shards_ = std::make_shared<const TokenShards>(
        TokenShards::prepare(corpus, tokenizer, root_ / "shards",
                             {.validation_fraction = 0.1, .max_tokens_per_shard = 2000}));
  }
  static void TearDownTestSuite() {
    shards_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(root_, ignored);
  }

  MlmDataset dataset(std::int64_t batch_size = 4, std::int64_t sequence_length = 32,
                     std::uint64_t seed = 11) const {
    return MlmDataset(shards_, {.batch_size = batch_size,
                                .sequence_length = sequence_length,
                                .validation_batch_size = 3,
                                .seed = seed});
  }

  // What packing sequence `index` gives, before masking.
  static std::vector<std::int32_t> packed(const MlmSequencePacking& packing, std::int64_t index) {
    std::vector<std::int32_t> row(static_cast<std::size_t>(packing.sequence_length()));
    row.resize(static_cast<std::size_t>(packing.fill(index, row)));
    return row;
  }

  static inline std::filesystem::path root_;
  static inline std::shared_ptr<const TokenShards> shards_;
};

TEST_F(MlmDatasetTest, PackingConcatenatesDocumentsWithSeparators) {
  const TokenSplit& split = shards_->training();
  // The stream S built directly from the documents.
  std::vector<std::int32_t> stream;
  for (std::int64_t d = 0; d < split.document_count(); ++d) {
    if (d > 0) stream.push_back(kSepTokenId);
    const std::vector<std::int32_t> document = split.document_tokens(d);
    stream.insert(stream.end(), document.begin(), document.end());
  }
  for (std::int64_t length : {3, 17, 64}) {
    const MlmSequencePacking packing(split, length);
    EXPECT_EQ(packing.stream_length(), static_cast<std::int64_t>(stream.size()));
    const std::int64_t content = length - 2;
    ASSERT_EQ(packing.sequence_count(),
              (static_cast<std::int64_t>(stream.size()) + content - 1) / content);
    std::vector<std::int32_t> rebuilt;
    for (std::int64_t i = 0; i < packing.sequence_count(); ++i) {
      std::vector<std::int32_t> row(static_cast<std::size_t>(length));
      const std::int64_t filled = packing.fill(i, row);
      const bool last = i + 1 == packing.sequence_count();
      if (!last) {
        ASSERT_EQ(filled, length) << "only the last sequence is short";
      }
      ASSERT_EQ(row[0], kClsTokenId);
      ASSERT_EQ(row[static_cast<std::size_t>(filled - 1)], kSepTokenId);
      for (std::int64_t t = filled; t < length; ++t)
        ASSERT_EQ(row[static_cast<std::size_t>(t)], kPadTokenId);
      rebuilt.insert(rebuilt.end(), row.begin() + 1, row.begin() + filled - 1);
    }
    EXPECT_EQ(rebuilt, stream) << "T = " << length;
  }
}

TEST_F(MlmDatasetTest, BatchLayoutAndMaskingAgreeWithPacking) {
  const MlmDataset data = dataset(4, 32);
  const std::int64_t capacity = data.masked_per_sequence();
  EXPECT_EQ(capacity, 5);  // round(0.15 * 30) = 4.5 -> 5
  const std::vector<std::int64_t> order = data.epoch_order(0);
  for (std::int64_t k = 0; k < 3; ++k) {
    const MlmBatch batch = data.training_batch({0, k, data.batches_per_epoch()});
    EXPECT_EQ(batch.input_ids.shape(), (Shape{4, 32}));
    EXPECT_EQ(batch.input_ids.dtype(), DType::i32);
    EXPECT_EQ(batch.token_type_ids.shape(), (Shape{4, 32}));
    EXPECT_EQ(batch.lengths.shape(), (Shape{4}));
    EXPECT_EQ(batch.masked_positions.shape(), (Shape{4 * capacity}));
    EXPECT_EQ(batch.masked_labels.shape(), (Shape{4 * capacity}));
    EXPECT_EQ(batch.masked_per_sequence(), capacity);
    for (std::int32_t type : as_vector(batch.token_type_ids)) EXPECT_EQ(type, 0);
    const std::vector<std::int32_t> ids = as_vector(batch.input_ids);
    const std::vector<std::int32_t> positions = as_vector(batch.masked_positions);
    const std::vector<std::int32_t> labels = as_vector(batch.masked_labels);
    std::int64_t used = 0;
    for (std::int64_t b = 0; b < 4; ++b) {
      const std::vector<std::int32_t> original =
          packed(data.training_packing(), order[static_cast<std::size_t>(k * 4 + b)]);
      EXPECT_EQ(batch.lengths.data<std::int32_t>()[b], static_cast<std::int32_t>(original.size()));
      std::map<std::int64_t, std::int32_t> label_at;
      for (std::int64_t slot = 0; slot < capacity; ++slot) {
        const std::int32_t flat = positions[static_cast<std::size_t>(b * capacity + slot)];
        const std::int32_t label = labels[static_cast<std::size_t>(b * capacity + slot)];
        ASSERT_GE(flat, b * 32);
        ASSERT_LT(flat, (b + 1) * 32);
        if (label == kIgnoreTarget) {
          EXPECT_EQ(flat, b * 32) << "an unused slot points at the row's [CLS]";
          continue;
        }
        ++used;
        const std::int64_t t = flat - b * 32;
        ASSERT_LT(t, static_cast<std::int64_t>(original.size()));
        EXPECT_EQ(label, original[static_cast<std::size_t>(t)]);
        EXPECT_TRUE(is_maskable_token(label));
        label_at[t] = label;
      }
      for (std::int64_t t = 0; t < 32; ++t) {
        const std::int32_t id = ids[static_cast<std::size_t>(b * 32 + t)];
        if (label_at.count(t)) {
          EXPECT_TRUE(id == kMaskTokenId || id >= kFirstRegularTokenId || id == label_at[t]);
        } else {
          EXPECT_EQ(id, t < static_cast<std::int64_t>(original.size())
                            ? original[static_cast<std::size_t>(t)]
                            : kPadTokenId);
        }
      }
    }
    EXPECT_EQ(batch.masked_count, used);
  }
}

TEST_F(MlmDatasetTest, MasksArePureInSeedEpochAndSequence) {
  const MlmDataset data = dataset();
  const MlmDataset twin = dataset();
  const std::int64_t batches = data.batches_per_epoch();
  // Same seed, epoch and batch: the same batch, from another instance too.
  expect_batches_identical(data.training_batch({1, 2, batches}),
                           twin.training_batch({1, 2, batches}));
  expect_batches_identical(data.training_batch({1, 2, batches}),
                           data.training_batch({1, 2, batches}));

  // Sequence s in epochs 0 and 1: same tokens, other masks (redrawn every epoch).
  auto masks_of = [&](const MlmDataset& source, std::int64_t epoch, std::int64_t sequence) {
    const std::vector<std::int64_t> order = source.epoch_order(epoch);
    const auto index = std::find(order.begin(), order.end(), sequence) - order.begin();
    const std::int64_t row = index % 4;
    const MlmBatch batch = source.training_batch({epoch, index / 4, batches});
    const std::int64_t capacity = batch.masked_per_sequence();
    const std::vector<std::int32_t> positions = as_vector(batch.masked_positions);
    return std::vector<std::int32_t>(positions.begin() + row * capacity,
                                     positions.begin() + (row + 1) * capacity);
  };
  int differing = 0;
  for (std::int64_t sequence = 0; sequence < 8; ++sequence) {
    EXPECT_EQ(masks_of(data, 0, sequence), masks_of(twin, 0, sequence));
    if (masks_of(data, 0, sequence) != masks_of(data, 1, sequence)) ++differing;
  }
  EXPECT_GE(differing, 7);
  // Another seed: other masks and another order.
  const MlmDataset reseeded = dataset(4, 32, 12);
  EXPECT_NE(reseeded.epoch_order(0), data.epoch_order(0));
  EXPECT_NE(masks_of(reseeded, 0, 3), masks_of(data, 0, 3));
  // Every epoch visits distinct sequences.
  std::vector<std::int64_t> order = data.epoch_order(2);
  std::sort(order.begin(), order.end());
  for (std::size_t i = 0; i < order.size(); ++i) EXPECT_EQ(order[i], static_cast<std::int64_t>(i));
}

TEST_F(MlmDatasetTest, MaskedShareOverAnEpochIsFifteenPercent) {
  const MlmDataset data = dataset(8, 64);
  std::int64_t maskable = 0;
  std::int64_t masked = 0;
  std::int64_t mask_token = 0;
  for (std::int64_t k = 0; k < data.batches_per_epoch(); ++k) {
    const MlmBatch batch = data.training_batch({0, k, data.batches_per_epoch()});
    masked += batch.masked_count;
    const std::vector<std::int32_t> ids = as_vector(batch.input_ids);
    for (std::int32_t id : ids) {
      if (is_maskable_token(id)) ++maskable;
      if (id == kMaskTokenId) ++mask_token;
    }
  }
  // ids counted after masking: [MASK] replacements were maskable tokens too.
  maskable += mask_token;
  ASSERT_GT(masked, 1000);
  EXPECT_NEAR(static_cast<double>(masked) / static_cast<double>(maskable), 0.15, 0.01);
  EXPECT_NEAR(static_cast<double>(mask_token) / static_cast<double>(masked), 0.8, 0.04);
}

TEST_F(MlmDatasetTest, RestoredPositionGivesIdenticalNextBatches) {
  MlmDataset original = dataset(4, 32);
  const std::int64_t batches = original.batches_per_epoch();
  // Stop two batches before an epoch ends, so the replay crosses into the next.
  for (std::int64_t k = 0; k < batches - 2; ++k) original.next_training_batch();
  const nlohmann::json saved = nlohmann::json::parse(original.position_json().dump());
  std::vector<MlmBatch> expected;
  for (int k = 0; k < 5; ++k) expected.push_back(original.next_training_batch());

  MlmDataset resumed = dataset(4, 32);
  resumed.restore_position_json(saved);
  for (int k = 0; k < 5; ++k) {
    SCOPED_TRACE(k);
    expect_batches_identical(resumed.next_training_batch(), expected[static_cast<std::size_t>(k)]);
  }
  EXPECT_EQ(resumed.position(), original.position());
  EXPECT_EQ(resumed.position().epoch, 1);

  MlmDataset reseeded = dataset(4, 32, 99);
  expect_error_mentions<CheckpointError>([&] { reseeded.restore_position_json(saved); }, {"seed"});
  MlmDataset longer = dataset(4, 40);
  expect_error_mentions<CheckpointError>([&] { longer.restore_position_json(saved); },
                                         {"masked-LM"});
  expect_error_mentions<CheckpointError>(
      [&] {
        resumed.restore_position_json({{"epoch", 1}});
      },
      {"batch"});
}

TEST_F(MlmDatasetTest, ValidationBatchesHaveAFixedMask) {
  MlmDataset data = dataset(4, 32);
  const std::vector<MlmBatch> first = data.validation_batches();
  ASSERT_GT(first.size(), 1u);
  EXPECT_EQ(static_cast<std::int64_t>(first.size()), data.validation_batch_count());
  for (int k = 0; k < 7; ++k) data.next_training_batch();  // training does not move validation
  const std::vector<MlmBatch> again = data.validation_batches();
  ASSERT_EQ(again.size(), first.size());
  for (std::size_t k = 0; k < first.size(); ++k) expect_batches_identical(again[k], first[k]);
  expect_batches_identical(dataset(4, 32).validation_batches(1).at(0), first[0]);

  // In order, validation batch size 3, the last batch holding the rest.
  const std::int64_t sequences = data.validation_packing().sequence_count();
  std::int64_t rows = 0;
  for (std::size_t k = 0; k < first.size(); ++k) {
    const std::int64_t expected_rows = std::min<std::int64_t>(3, sequences - rows);
    ASSERT_EQ(first[k].batch_size(), expected_rows);
    for (std::int64_t b = 0; b < expected_rows; ++b) {
      const std::vector<std::int32_t> original = packed(data.validation_packing(), rows + b);
      EXPECT_EQ(first[k].lengths.data<std::int32_t>()[b],
                static_cast<std::int32_t>(original.size()));
      EXPECT_EQ(first[k].input_ids.data<std::int32_t>()[b * 32], kClsTokenId);
    }
    rows += expected_rows;
  }
  EXPECT_EQ(rows, sequences);
}

TEST_F(MlmDatasetTest, OptionErrors) {
  expect_error_mentions<ConfigError>([&] { dataset(4, 2); }, {"sequence length", "2"});
  expect_error_mentions<ConfigError>([&] { dataset(0, 32); }, {"batch size"});
  expect_error_mentions<DataError>([&] { dataset(100000, 32); },
                                   {shards_->directory().string(), "fewer than one batch"});
}

TEST_F(MlmDatasetTest, PhasesSwitchLayoutAtTheirStepAndResume) {
  const std::vector<MlmPhase> phases = {{.steps = 3, .sequence_length = 16, .batch_size = 6},
                                        {.steps = 2, .sequence_length = 48, .batch_size = 2}};
  const MlmDatasetOptions options{.validation_batch_size = 3, .seed = 5};
  MlmPhasedDataset phased(shards_, phases, options);
  EXPECT_EQ(phased.phase_at_step(0), 0);
  EXPECT_EQ(phased.phase_at_step(2), 0);
  EXPECT_EQ(phased.phase_at_step(3), 1);
  EXPECT_EQ(phased.phase_at_step(1000), 1);  // the last phase goes on
  EXPECT_EQ(phased.validation_batches(1).at(0).sequence_length(), 16);

  // Phase batches are exactly the phase's own dataset's batches.
  MlmDataset short_phase(shards_, {.batch_size = 6, .sequence_length = 16, .seed = 5});
  MlmDataset long_phase(shards_, {.batch_size = 2, .sequence_length = 48, .seed = 5});
  for (int step = 0; step < 3; ++step)
    expect_batches_identical(phased.next_training_batch(), short_phase.next_training_batch());
  EXPECT_EQ(phased.current_phase(), 1);
  EXPECT_EQ(phased.validation_batches(1).at(0).sequence_length(), 48);
  const nlohmann::json saved = nlohmann::json::parse(phased.position_json().dump());
  std::vector<MlmBatch> expected;
  for (int step = 0; step < 4; ++step) {
    expected.push_back(phased.next_training_batch());
    expect_batches_identical(expected.back(), long_phase.next_training_batch());
    EXPECT_EQ(expected.back().input_ids.shape(), (Shape{2, 48}));
  }

  MlmPhasedDataset resumed(shards_, phases, options);
  resumed.restore_position_json(saved);
  EXPECT_EQ(resumed.batches_served(), 3);
  for (const MlmBatch& batch : expected)
    expect_batches_identical(resumed.next_training_batch(), batch);

  std::vector<MlmPhase> other = phases;
  other[0].steps = 4;
  MlmPhasedDataset reshaped(shards_, other, options);
  expect_error_mentions<CheckpointError>([&] { reshaped.restore_position_json(saved); },
                                         {"phases"});
  expect_error_mentions<ConfigError>([&] { MlmPhasedDataset(shards_, {}, options); }, {"phase"});
  expect_error_mentions<ConfigError>(
      [&] {
        MlmPhasedDataset(shards_, {{.steps = 0, .sequence_length = 16, .batch_size = 2}}, options);
      },
      {"phase 0"});
}

// Phases are optimizer steps: with 2 micro-batches per step, phase 1's 2
// steps are 4 batches, and a resume keeps the micro-batch position.
TEST_F(MlmDatasetTest, PhasesCountOptimizerStepsUnderGradientAccumulation) {
  const std::vector<MlmPhase> phases = {{.steps = 2, .sequence_length = 16, .batch_size = 4},
                                        {.steps = 2, .sequence_length = 32, .batch_size = 2}};
  const MlmDatasetOptions options{.validation_batch_size = 3, .seed = 5};
  MlmPhasedDataset phased(shards_, phases, options, /*batches_per_step=*/2);
  std::vector<std::int64_t> lengths, last_phases;
  nlohmann::json after_three;
  for (int batch = 0; batch < 8; ++batch) {
    lengths.push_back(phased.next_training_batch().sequence_length());
    last_phases.push_back(phased.last_phase());
    if (batch == 2) after_three = nlohmann::json::parse(phased.position_json().dump());
  }
  EXPECT_EQ(lengths, (std::vector<std::int64_t>{16, 16, 16, 16, 32, 32, 32, 32}));
  EXPECT_EQ(last_phases, (std::vector<std::int64_t>{0, 0, 0, 0, 1, 1, 1, 1}));

  // Resumed mid-step (after 3 batches) it serves the 4th batch of phase 1.
  MlmPhasedDataset resumed(shards_, phases, options, 2);
  resumed.restore_position_json(after_three);
  EXPECT_EQ(resumed.batches_served(), 3);
  EXPECT_EQ(resumed.next_training_batch().sequence_length(), 16);
  EXPECT_EQ(resumed.next_training_batch().sequence_length(), 32);

  MlmPhasedDataset other_accumulation(shards_, phases, options, 1);
  expect_error_mentions<CheckpointError>(
      [&] { other_accumulation.restore_position_json(after_three); },
      {"2 batches per optimizer step", "gradient_accumulation 1"});
}

// Every micro-batch of every optimizer step masks its own sequences with its
// own draws: no two batches of three steps of three micro-batches share their
// masked positions (each row's, relative to the row) or their labels.
TEST_F(MlmDatasetTest, MasksDifferForEveryMicroBatchOfEveryStep) {
  const std::vector<MlmPhase> phases = {{.steps = 2, .sequence_length = 24, .batch_size = 3},
                                        {.steps = 1, .sequence_length = 32, .batch_size = 2}};
  MlmPhasedDataset phased(shards_, phases, {.validation_batch_size = 3, .seed = 8}, 3);
  std::vector<std::vector<std::int32_t>> patterns;
  for (int batch = 0; batch < 9; ++batch) {
    const MlmBatch drawn = phased.next_training_batch();
    std::vector<std::int32_t> pattern;
    const std::int32_t* positions = drawn.masked_positions.data<std::int32_t>();
    const std::int32_t* labels = drawn.masked_labels.data<std::int32_t>();
    for (std::int64_t slot = 0; slot < drawn.masked_positions.numel(); ++slot) {
      pattern.push_back(positions[slot] % static_cast<std::int32_t>(drawn.sequence_length()));
      pattern.push_back(labels[slot]);
    }
    patterns.push_back(pattern);
  }
  for (std::size_t a = 0; a < patterns.size(); ++a)
    for (std::size_t b = a + 1; b < patterns.size(); ++b)
      EXPECT_NE(patterns[a], patterns[b]) << "batches " << a << " and " << b;
}

// A position saved before batches_per_step existed ("step": batches served)
// restores as one batch per step.
TEST_F(MlmDatasetTest, PhasedPositionWithoutBatchesPerStepRestoresAsOnePerStep) {
  const std::vector<MlmPhase> phases = {{.steps = 2, .sequence_length = 16, .batch_size = 4},
                                        {.steps = 2, .sequence_length = 32, .batch_size = 2}};
  const MlmDatasetOptions options{.validation_batch_size = 3, .seed = 5};
  MlmPhasedDataset phased(shards_, phases, options);
  phased.next_training_batch();
  nlohmann::json saved = nlohmann::json::parse(phased.position_json().dump());
  saved["step"] = saved["batches"];
  saved.erase("batches");
  saved.erase("batches_per_step");
  const MlmBatch expected = phased.next_training_batch();
  MlmPhasedDataset resumed(shards_, phases, options);
  resumed.restore_position_json(saved);
  expect_batches_identical(resumed.next_training_batch(), expected);
}

}  // namespace
}  // namespace seqtrain
