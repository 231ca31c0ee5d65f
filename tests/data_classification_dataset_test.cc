#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "data/classification_dataset.h"
#include "data_test_support.h"
#include "seqtrain/error.h"

namespace seqtrain {
namespace {

using testing::DataTestDirectory;
using testing::expect_batches_identical;
using testing::expect_error_mentions;

std::int32_t at(const Tensor& tensor, std::int64_t t, std::int64_t b) {
  return tensor.data<std::int32_t>()[t * tensor.dim(1) + b];
}

// Lines "<i>\texample number <i> <letters>" for i in [0, count): the integer label
// names the example, so a batch's targets say which examples it holds.
std::string numbered_examples(int count) {
  std::string text;
  for (int i = 0; i < count; ++i)
    text += std::to_string(i) + "\texample number " + std::to_string(i) + " " +
            std::string(1 + i % 5, static_cast<char>('a' + i % 26)) + "\n";
  return text;
}

TEST(ClassificationDataset, ParsesLabelTabTextLinesAndSortsLabels) {
  DataTestDirectory directory;
  const std::string text = "pos\tgreat film\r\n\nneg\tbad\tvery bad\nneutral\tmeh\n";
  ClassificationDataset dataset({.train_path = directory.write("train.tsv", text),
                                 .validation_fraction = 0.0,
                                 .batch_size = 1,
                                 .max_length = 32});
  EXPECT_EQ(dataset.labels().names(), (std::vector<std::string>{"neg", "neutral", "pos"}));
  const std::vector<ClassificationExample>& examples = dataset.training_examples();
  ASSERT_EQ(examples.size(), 3u);
  EXPECT_EQ(dataset.vocabulary().decode(examples[0].ids), "great film");  // "\r" dropped
  EXPECT_EQ(examples[0].label, 2);
  EXPECT_EQ(examples[0].line, 1);
  EXPECT_EQ(dataset.vocabulary().decode(examples[1].ids), "bad\tvery bad");  // later tabs are text
  EXPECT_EQ(examples[1].label, 0);
  EXPECT_EQ(examples[1].line, 3);  // the empty line 2 is skipped
  EXPECT_EQ(examples[2].label, 1);
}

TEST(ClassificationDataset, IntegerLabelsSortNumerically) {
  EXPECT_EQ(ClassLabels::from_names({"10", "2", "1", "2", "-3"}).names(),
            (std::vector<std::string>{"-3", "1", "2", "10"}));
  EXPECT_EQ(ClassLabels::from_names({"10", "2", "b"}).names(),
            (std::vector<std::string>{"10", "2", "b"}));
  ClassLabels labels = ClassLabels::from_names({"spam", "ham"});
  EXPECT_EQ(ClassLabels::from_json(nlohmann::json::parse(labels.to_json().dump()), "labels.json"),
            labels);
  nlohmann::json unsorted = labels.to_json();
  unsorted["names"] = {"spam", "ham"};
  expect_error_mentions<DataError>([&] { ClassLabels::from_json(unsorted, "run/labels.json"); },
                                   {"run/labels.json", "sorted"});
}

TEST(ClassificationDataset, BatchesAreTimeMajorTruncatedAndPadded) {
  DataTestDirectory directory;
  ClassificationDataset dataset(
      {.train_path = directory.write("train.tsv", "x\tabcdefgh\ny\tab\nx\tq\n"),
       .validation_path = directory.write("valid.tsv", "y\tab\nx\tabcdefgh\n"),
       .batch_size = 2,
       .max_length = 5});
  EXPECT_EQ(dataset.truncated_examples(), 2u);
  std::vector<SequenceBatch> batches = dataset.validation_batches();
  ASSERT_EQ(batches.size(), 1u);
  const SequenceBatch& batch = batches[0];
  EXPECT_EQ(batch.tokens.shape(), (Shape{5, 2}));
  EXPECT_EQ(batch.targets.shape(), (Shape{2}));
  EXPECT_FALSE(batch.continues_previous);
  EXPECT_EQ(batch.lengths.data<std::int32_t>()[0], 2);
  EXPECT_EQ(batch.lengths.data<std::int32_t>()[1], 5);
  EXPECT_EQ(batch.targets.data<std::int32_t>()[0], 1);  // "y"
  EXPECT_EQ(batch.targets.data<std::int32_t>()[1], 0);  // "x"
  const std::string second = "abcde";
  for (std::int64_t t = 0; t < 5; ++t) {
    EXPECT_EQ(at(batch.tokens, t, 0), t < 2 ? static_cast<std::int32_t>("ab"[t]) : kPaddingToken);
    EXPECT_EQ(at(batch.tokens, t, 1), static_cast<std::int32_t>(second[t]));
  }
}

TEST(ClassificationDataset, EpochsVisitShuffledDisjointBatchesDeterminedBySeed) {
  DataTestDirectory directory;
  ClassificationDatasetOptions options{
      .train_path = directory.write("train.tsv", numbered_examples(10)),
      .validation_fraction = 0.0,
      .batch_size = 3,
      .max_length = 30,
      .seed = 17};
  ClassificationDataset dataset(options);
  ASSERT_EQ(dataset.batches_per_epoch(), 3);  // 10 / 3, one example sits each epoch out
  auto epoch_examples = [&](ClassificationDataset& source) {
    std::vector<std::int32_t> seen;
    for (int k = 0; k < 3; ++k) {
      SequenceBatch batch = source.next_training_batch();
      EXPECT_EQ(batch.batch_size(), 3);
      for (std::int32_t label : batch.targets.span<std::int32_t>())
        seen.push_back(std::stoi(source.labels().name(label)));
    }
    return seen;
  };
  std::vector<std::int32_t> epoch0 = epoch_examples(dataset);
  std::vector<std::int32_t> epoch1 = epoch_examples(dataset);
  EXPECT_EQ(std::set<std::int32_t>(epoch0.begin(), epoch0.end()).size(), 9u);
  EXPECT_EQ(std::set<std::int32_t>(epoch1.begin(), epoch1.end()).size(), 9u);
  EXPECT_NE(epoch0, epoch1);
  std::vector<std::int64_t> order = dataset.epoch_order(1);
  for (int i = 0; i < 9; ++i)
    EXPECT_EQ(epoch1[i],
              std::stoi(dataset.labels().name(dataset.training_examples()[order[i]].label)));

  ClassificationDataset same_seed(options);
  EXPECT_EQ(epoch_examples(same_seed), epoch0);
  options.seed = 18;
  ClassificationDataset other_seed(options);
  EXPECT_NE(epoch_examples(other_seed), epoch0);
}

TEST(ClassificationDataset, RestoredPositionGivesIdenticalNextBatches) {
  DataTestDirectory directory;
  ClassificationDatasetOptions options{
      .train_path = directory.write("train.tsv", numbered_examples(40)),
      .validation_fraction = 0.2,
      .batch_size = 4,
      .max_length = 12,
      .seed = 3};
  ClassificationDataset original(options);
  ASSERT_EQ(original.batches_per_epoch(), 8);
  for (int k = 0; k < 10; ++k) original.next_training_batch();
  const std::string saved = original.position_json().dump();
  ClassificationDataset resumed(options);
  resumed.restore_position_json(nlohmann::json::parse(saved));
  EXPECT_EQ(resumed.position(), original.position());
  for (int k = 0; k < 9; ++k) {
    SCOPED_TRACE(k);
    SequenceBatch expected = original.next_training_batch();
    expect_batches_identical(resumed.next_training_batch(), expected);
  }
  expect_batches_identical(resumed.training_batch({.epoch = 0, .batch = 5, .batches_per_epoch = 8}),
                           ClassificationDataset(options).training_batch(
                               {.epoch = 0, .batch = 5, .batches_per_epoch = 8}));

  options.seed = 4;
  ClassificationDataset reseeded(options);
  expect_error_mentions<CheckpointError>(
      [&] { reseeded.restore_position_json(nlohmann::json::parse(saved)); }, {"seed"});
}

TEST(ClassificationDataset, ValidationKeepsFileOrderAndItsLastPartialBatch) {
  DataTestDirectory directory;
  ClassificationDataset dataset(
      {.train_path = directory.write("train.tsv", numbered_examples(7)),
       .validation_path = directory.write("valid.tsv", numbered_examples(7)),
       .batch_size = 3,
       .max_length = 30});
  ASSERT_EQ(dataset.validation_batch_count(), 3);
  std::vector<SequenceBatch> batches = dataset.validation_batches();
  ASSERT_EQ(batches.size(), 3u);
  std::vector<std::string> labels;
  for (const SequenceBatch& batch : batches)
    for (std::int32_t label : batch.targets.span<std::int32_t>())
      labels.push_back(dataset.labels().name(label));
  EXPECT_EQ(labels, (std::vector<std::string>{"0", "1", "2", "3", "4", "5", "6"}));
  EXPECT_EQ(batches[2].batch_size(), 1);
  EXPECT_EQ(batches[2].tokens.shape(), (Shape{30, 1}));
  EXPECT_EQ(dataset.validation_batches(2).size(), 2u);
}

TEST(ClassificationDataset, HeldOutFractionIsASeededDisjointSplit) {
  DataTestDirectory directory;
  std::string sorted_by_label;
  for (int i = 0; i < 40; ++i)
    sorted_by_label += (i < 20 ? "a\tfirst " : "b\tsecond ") + std::to_string(i) + "\n";
  ClassificationDatasetOptions options{.train_path = directory.write("train.tsv", sorted_by_label),
                                       .validation_fraction = 0.25,
                                       .batch_size = 5,
                                       .max_length = 16,
                                       .seed = 8};
  ClassificationDataset dataset(options);
  ASSERT_EQ(dataset.training_examples().size(), 30u);
  ASSERT_EQ(dataset.validation_examples().size(), 10u);
  std::set<std::int64_t> lines, validation_labels;
  for (const auto& example : dataset.training_examples()) lines.insert(example.line);
  for (const auto& example : dataset.validation_examples()) {
    lines.insert(example.line);
    validation_labels.insert(example.label);
  }
  EXPECT_EQ(lines.size(), 40u);             // disjoint and complete
  EXPECT_EQ(validation_labels.size(), 2u);  // not just the file's tail
  std::vector<std::int64_t> held_out;
  for (const auto& example : dataset.validation_examples()) held_out.push_back(example.line);
  EXPECT_TRUE(std::is_sorted(held_out.begin(), held_out.end()));
  std::vector<std::int64_t> again;
  ClassificationDataset rebuilt(options);
  for (const auto& example : rebuilt.validation_examples()) again.push_back(example.line);
  EXPECT_EQ(again, held_out);
}

TEST(ClassificationDataset, CharacterVocabularyComesFromTrainingTextOnly) {
  DataTestDirectory directory;
  ClassificationDataset dataset(
      {.train_path = directory.write("train.tsv", "a\tcaf\xc3\xa9\nb\tcafe\n"),
       .validation_path = directory.write("valid.tsv", "a\tcaf\xc3\xa9!\n"),
       .vocabulary_kind = VocabularyKind::character,
       .batch_size = 2,
       .max_length = 8});
  EXPECT_EQ(dataset.vocabulary().size(), 6);  // <unk> a c e f e-acute
  EXPECT_EQ(dataset.unknown_symbols(), 1u);   // "!"
  EXPECT_EQ(dataset.validation_examples()[0].ids.size(), 5u);
  EXPECT_EQ(dataset.validation_examples()[0].ids.back(), 0);
}

TEST(ClassificationDataset, ReloadedVocabularyAndLabelsKeepIds) {
  DataTestDirectory directory;
  ClassificationDatasetOptions options{
      .train_path = directory.write("train.tsv", "pos\tyes\nneg\tno\n"),
      .vocabulary_kind = VocabularyKind::character,
      .validation_fraction = 0.0,
      .batch_size = 1,
      .max_length = 4};
  ClassificationDataset trained(options);
  options.train_path = directory.write("eval.tsv", "pos\tnose\n");
  ClassificationDataset evaluated(options, trained.vocabulary(), trained.labels());
  EXPECT_EQ(evaluated.labels(), trained.labels());
  EXPECT_EQ(evaluated.training_examples()[0].label, *trained.labels().id_of("pos"));
  EXPECT_EQ(evaluated.training_examples()[0].ids, trained.vocabulary().encode("nose", "x"));
}

// Malformed input: one test per case, each checking the type and that the
// message names the file (and line).

TEST(ClassificationDataset, LineWithoutTabIsDataErrorNamingPathAndLine) {
  DataTestDirectory directory;
  const auto path = directory.write("train.tsv", "pos\tfine\nno tab on this line\n");
  expect_error_mentions<DataError>(
      [&] { ClassificationDataset dataset({.train_path = path, .batch_size = 1}); },
      {path.string() + ":2", "no tab", "label<TAB>text"});
}

TEST(ClassificationDataset, EmptyLabelIsDataErrorNamingPathAndLine) {
  DataTestDirectory directory;
  const auto path = directory.write("train.tsv", "\ttext without label\n");
  expect_error_mentions<DataError>(
      [&] { ClassificationDataset dataset({.train_path = path, .batch_size = 1}); },
      {path.string() + ":1", "label before the tab is empty"});
}

TEST(ClassificationDataset, EmptyTextIsDataErrorNamingPathAndLine) {
  DataTestDirectory directory;
  const auto path = directory.write("train.tsv", "pos\tok\npos\tok\nneg\t\r\n");
  expect_error_mentions<DataError>(
      [&] { ClassificationDataset dataset({.train_path = path, .batch_size = 1}); },
      {path.string() + ":3", "text after the tab is empty"});
}

TEST(ClassificationDataset, EmptyFileIsDataErrorNamingIt) {
  DataTestDirectory directory;
  const auto path = directory.write("train.tsv", "");
  expect_error_mentions<DataError>([&] { ClassificationDataset dataset({.train_path = path}); },
                                   {path.string(), "is empty"});
}

TEST(ClassificationDataset, FileOfBlankLinesIsDataErrorNamingIt) {
  DataTestDirectory directory;
  const auto path = directory.write("train.tsv", "\n\r\n\n");
  expect_error_mentions<DataError>([&] { ClassificationDataset dataset({.train_path = path}); },
                                   {path.string(), "only empty lines"});
}

TEST(ClassificationDataset, MissingTrainingFileIsDataErrorNamingIt) {
  DataTestDirectory directory;
  const auto path = directory.root() / "absent.tsv";
  expect_error_mentions<DataError>([&] { ClassificationDataset dataset({.train_path = path}); },
                                   {path.string(), "does not exist", "training file"});
}

TEST(ClassificationDataset, MissingValidationFileIsDataErrorNamingIt) {
  DataTestDirectory directory;
  const auto path = directory.root() / "absent_valid.tsv";
  expect_error_mentions<DataError>(
      [&] {
        ClassificationDataset dataset({.train_path = directory.write("train.tsv", "a\tx\n"),
                                       .validation_path = path,
                                       .batch_size = 1});
      },
      {path.string(), "does not exist", "validation file"});
}

TEST(ClassificationDataset, UnknownValidationLabelIsDataErrorNamingPathAndLine) {
  DataTestDirectory directory;
  const auto path = directory.write("valid.tsv", "pos\tgood\nmaybe\tso so\n");
  expect_error_mentions<DataError>(
      [&] {
        ClassificationDataset dataset(
            {.train_path = directory.write("train.tsv", "pos\tgood\nneg\tbad\n"),
             .validation_path = path,
             .batch_size = 1});
      },
      {path.string() + ":2", "'maybe'", "neg, pos"});
}

TEST(ClassificationDataset, InvalidUtf8TextAtCharacterLevelNamesPathLineAndOffset) {
  DataTestDirectory directory;
  const auto path = directory.write("train.tsv", "a\tfine\nb\tna\xefve\n");
  expect_error_mentions<DataError>(
      [&] {
        ClassificationDataset dataset(
            {.train_path = path, .vocabulary_kind = VocabularyKind::character, .batch_size = 1});
      },
      {path.string() + ":2", "byte offset 11"});
}

TEST(ClassificationDataset, InvalidUtf8LabelIsDataErrorEvenAtByteLevel) {
  DataTestDirectory directory;
  const auto path = directory.write("train.tsv", "caf\xe9\ttext\n");
  expect_error_mentions<DataError>(
      [&] { ClassificationDataset dataset({.train_path = path, .batch_size = 1}); },
      {path.string() + ":1", "byte offset 3"});
}

TEST(ClassificationDataset, FewerExamplesThanOneBatchIsDataError) {
  DataTestDirectory directory;
  const auto path = directory.write("train.tsv", numbered_examples(3));
  expect_error_mentions<DataError>(
      [&] {
        ClassificationDataset dataset(
            {.train_path = path, .validation_fraction = 0.0, .batch_size = 4});
      },
      {path.string(), "fewer than one batch of 4"});
}

TEST(ClassificationDataset, TooFewExamplesToHoldOutIsDataError) {
  DataTestDirectory directory;
  const auto path = directory.write("train.tsv", numbered_examples(5));
  expect_error_mentions<DataError>(
      [&] {
        ClassificationDataset dataset(
            {.train_path = path, .validation_fraction = 0.1, .batch_size = 1});
      },
      {path.string(), "too few to hold out"});
}

TEST(ClassificationDataset, OptionsOutOfRangeAreConfigErrors) {
  DataTestDirectory directory;
  const auto path = directory.write("train.tsv", numbered_examples(5));
  EXPECT_THROW(ClassificationDataset({.train_path = path, .batch_size = 0}), ConfigError);
  EXPECT_THROW(ClassificationDataset({.train_path = path, .max_length = 0}), ConfigError);
  EXPECT_THROW(ClassificationDataset({.train_path = path, .validation_fraction = -0.1}),
               ConfigError);
}

}  // namespace
}  // namespace seqtrain
