#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "data/text_dataset.h"
#include "data_test_support.h"
#include "seqtrain/error.h"

namespace seqtrain {
namespace {

using testing::DataTestDirectory;
using testing::expect_batches_identical;
using testing::expect_error_mentions;

// Text whose every position is easy to tell apart: numbered lines of letters.
std::string numbered_text(int characters) {
  std::string text;
  for (int line = 0; static_cast<int>(text.size()) < characters; ++line)
    text +=
        "line " + std::to_string(line) + ": " + std::string(1 + line % 7, 'a' + line % 26) + "\n";
  text.resize(static_cast<std::size_t>(characters));
  return text;
}

std::int32_t at(const Tensor& tensor, std::int64_t t, std::int64_t b) {
  return tensor.data<std::int32_t>()[t * tensor.dim(1) + b];
}

TEST(TextDataset, ValidationIsTheLastFractionOfTheText) {
  DataTestDirectory directory;
  const std::string text = numbered_text(1000);
  TextDatasetOptions options{.path = directory.write("text.txt", text),
                             .vocabulary_kind = VocabularyKind::byte,
                             .validation_fraction = 0.1,
                             .batch_size = 3,
                             .sequence_length = 8};
  TextDataset dataset(options);
  EXPECT_EQ(dataset.training_symbol_count(), 900);
  EXPECT_EQ(dataset.validation_symbol_count(), 100);
  // 3 validation streams of (100 - 1) / 3 = 33 inputs each, in windows of 8.
  std::vector<SequenceBatch> validation = dataset.validation_batches();
  ASSERT_EQ(validation.size(), 5u);
  std::string first_stream;
  for (const SequenceBatch& batch : validation)
    for (std::int64_t t = 0; t < batch.lengths.data<std::int32_t>()[0]; ++t)
      first_stream += static_cast<char>(at(batch.tokens, t, 0));
  EXPECT_EQ(first_stream, text.substr(900, 33));
}

TEST(TextDataset, CharacterSplitCountsCodePointsAndVocabularyComesFromTrainingOnly) {
  DataTestDirectory directory;
  std::string text;
  for (int i = 0; i < 90; ++i) text += "\xc3\xa9";  // e-acute, two bytes each
  text += std::string(10, 'x');
  TextDataset dataset({.path = directory.write("accents.txt", text),
                       .vocabulary_kind = VocabularyKind::character,
                       .validation_fraction = 0.1,
                       .batch_size = 2,
                       .sequence_length = 4});
  EXPECT_EQ(dataset.training_symbol_count(), 90);
  EXPECT_EQ(dataset.validation_symbol_count(), 10);
  EXPECT_EQ(dataset.vocabulary().size(), 2);  // <unk> and e-acute
  EXPECT_EQ(dataset.unknown_validation_symbols(), 10u);
  EXPECT_EQ(dataset.unknown_training_symbols(), 0u);
}

TEST(TextDataset, TargetsAreTheNextSymbolsOfContiguousStreams) {
  DataTestDirectory directory;
  const std::string text = numbered_text(400);
  const std::int64_t streams = 4, window = 7;
  TextDataset dataset({.path = directory.write("text.txt", text),
                       .vocabulary_kind = VocabularyKind::byte,
                       .validation_fraction = 0.0,
                       .batch_size = streams,
                       .sequence_length = window});
  const std::int64_t stream_length = (400 - 1) / streams;  // 99 inputs per stream
  ASSERT_EQ(dataset.training_stream_length(), stream_length);
  ASSERT_EQ(dataset.batches_per_epoch(), (stream_length + window - 1) / window);
  std::vector<std::string> read(streams);
  for (std::int64_t k = 0; k < dataset.batches_per_epoch(); ++k) {
    SequenceBatch batch = dataset.next_training_batch();
    ASSERT_EQ(batch.tokens.shape(), (Shape{window, streams}));
    ASSERT_EQ(batch.targets.shape(), (Shape{window, streams}));
    EXPECT_EQ(batch.continues_previous, k > 0);
    for (std::int64_t b = 0; b < streams; ++b) {
      const std::int64_t length = batch.lengths.data<std::int32_t>()[b];
      EXPECT_EQ(length, std::min(window, stream_length - k * window));
      for (std::int64_t t = 0; t < length; ++t) {
        const std::size_t offset = static_cast<std::size_t>(b * stream_length + k * window + t);
        EXPECT_EQ(at(batch.tokens, t, b), static_cast<unsigned char>(text[offset]));
        EXPECT_EQ(at(batch.targets, t, b), static_cast<unsigned char>(text[offset + 1]));
        read[b] += static_cast<char>(at(batch.tokens, t, b));
      }
    }
  }
  // Concatenating a stream's windows gives its contiguous slice of the text.
  for (std::int64_t b = 0; b < streams; ++b)
    EXPECT_EQ(read[b], text.substr(b * stream_length, stream_length));
}

TEST(TextDataset, LastWindowOfAnEpochIsPaddedWithIgnoredTargets) {
  DataTestDirectory directory;
  // 2 streams of (23 - 1) / 2 = 11 inputs in windows of 4: 4, 4, 3.
  TextDataset dataset({.path = directory.write("text.txt", numbered_text(23)),
                       .vocabulary_kind = VocabularyKind::byte,
                       .validation_fraction = 0.0,
                       .batch_size = 2,
                       .sequence_length = 4});
  ASSERT_EQ(dataset.batches_per_epoch(), 3);
  SequenceBatch last = dataset.training_batch({.epoch = 0, .batch = 2, .batches_per_epoch = 3});
  for (std::int64_t b = 0; b < 2; ++b) {
    EXPECT_EQ(last.lengths.data<std::int32_t>()[b], 3);
    EXPECT_EQ(at(last.targets, 3, b), kIgnoreTarget);
    EXPECT_EQ(at(last.tokens, 3, b), kPaddingToken);
    EXPECT_NE(at(last.targets, 2, b), kIgnoreTarget);
  }
}

TEST(TextDataset, EpochWrapsToTheFirstBatchWithFreshState) {
  DataTestDirectory directory;
  TextDataset dataset({.path = directory.write("text.txt", numbered_text(200)),
                       .vocabulary_kind = VocabularyKind::character,
                       .validation_fraction = 0.0,
                       .batch_size = 3,
                       .sequence_length = 10});
  const std::int64_t per_epoch = dataset.batches_per_epoch();
  ASSERT_EQ(per_epoch, 7);  // streams of 66 inputs
  SequenceBatch first = dataset.next_training_batch();
  for (std::int64_t k = 1; k < per_epoch; ++k) dataset.next_training_batch();
  EXPECT_EQ(dataset.position(), (EpochPosition{.epoch = 1, .batch = 0, .batches_per_epoch = 7}));
  SequenceBatch wrapped = dataset.next_training_batch();
  EXPECT_FALSE(wrapped.continues_previous);
  expect_batches_identical(wrapped, first);
  EXPECT_EQ(dataset.position(), (EpochPosition{.epoch = 1, .batch = 1, .batches_per_epoch = 7}));
}

TEST(TextDataset, RestoredPositionGivesIdenticalNextBatches) {
  DataTestDirectory directory;
  TextDatasetOptions options{.path = directory.write("text.txt", numbered_text(300)),
                             .vocabulary_kind = VocabularyKind::character,
                             .validation_fraction = 0.1,
                             .batch_size = 4,
                             .sequence_length = 16};
  TextDataset original(options);
  ASSERT_EQ(original.batches_per_epoch(), 5);
  for (int k = 0; k < 8; ++k) original.next_training_batch();
  const std::string saved = original.position_json().dump();

  TextDataset resumed(options);
  resumed.restore_position_json(nlohmann::json::parse(saved));
  EXPECT_EQ(resumed.position(), original.position());
  for (int k = 0; k < 6; ++k) {
    SCOPED_TRACE(k);
    expect_batches_identical(resumed.next_training_batch(), original.next_training_batch());
  }
}

TEST(TextDataset, PositionFromOtherLayoutIsRejected) {
  DataTestDirectory directory;
  TextDatasetOptions options{.path = directory.write("text.txt", numbered_text(300)),
                             .vocabulary_kind = VocabularyKind::byte,
                             .validation_fraction = 0.0,
                             .batch_size = 4,
                             .sequence_length = 16};
  const nlohmann::json saved = TextDataset(options).position_json();
  options.batch_size = 2;
  TextDataset other(options);
  expect_error_mentions<CheckpointError>([&] { other.restore_position_json(saved); },
                                         {"batches per epoch"});
  expect_error_mentions<CheckpointError>(
      [&] {
        other.restore_position_json(nlohmann::json{{"epoch", 1}});
      },
      {"\"batch\""});
}

TEST(TextDataset, ValidationRestartsOnEveryCallAndHonoursTheLimit) {
  DataTestDirectory directory;
  TextDataset dataset({.path = directory.write("text.txt", numbered_text(1000)),
                       .vocabulary_kind = VocabularyKind::byte,
                       .validation_fraction = 0.2,
                       .batch_size = 8,
                       .sequence_length = 5,
                       .validation_batch_size = 2});
  // 200 validation symbols: 2 streams of 99 inputs, 20 windows.
  ASSERT_EQ(dataset.validation_batch_count(), 20);
  std::vector<SequenceBatch> all = dataset.validation_batches();
  ASSERT_EQ(all.size(), 20u);
  EXPECT_EQ(all[0].tokens.shape(), (Shape{5, 2}));
  EXPECT_FALSE(all[0].continues_previous);
  EXPECT_TRUE(all[1].continues_previous);
  dataset.next_training_batch();
  std::vector<SequenceBatch> limited = dataset.validation_batches(3);
  ASSERT_EQ(limited.size(), 3u);
  for (int k = 0; k < 3; ++k) expect_batches_identical(limited[k], all[k]);
  EXPECT_TRUE(TextDataset({.path = directory.write("short.txt", numbered_text(100)),
                           .vocabulary_kind = VocabularyKind::byte,
                           .validation_fraction = 0.0,
                           .batch_size = 2,
                           .sequence_length = 5})
                  .validation_batches()
                  .empty());
}

TEST(TextDataset, ReloadedVocabularyKeepsTrainingIds) {
  DataTestDirectory directory;
  TextDatasetOptions options{.path = directory.write("text.txt", numbered_text(500)),
                             .vocabulary_kind = VocabularyKind::character,
                             .validation_fraction = 0.1,
                             .batch_size = 2,
                             .sequence_length = 8};
  TextDataset trained(options);
  trained.vocabulary().save(directory.root() / "vocabulary.json");
  // Evaluating another text with the saved vocabulary: its unseen symbols are <unk>.
  options.path = directory.write("other.txt", "line 9: zzz QQ\nline 10: bb\n");
  options.vocabulary_kind = VocabularyKind::byte;  // ignored: the vocabulary decides
  options.validation_fraction = 0.0;
  TextDataset evaluated(options, CharVocabulary::load(directory.root() / "vocabulary.json"));
  EXPECT_EQ(evaluated.vocabulary(), trained.vocabulary());
  EXPECT_EQ(evaluated.unknown_training_symbols(), 2u);  // Q, Q
  SequenceBatch batch = evaluated.training_batch(evaluated.position());
  EXPECT_EQ(at(batch.tokens, 0, 0), trained.vocabulary().encode("l", "x")[0]);
}

TEST(TextDataset, MissingFileIsDataErrorNamingIt) {
  DataTestDirectory directory;
  const std::filesystem::path path = directory.root() / "no_such.txt";
  expect_error_mentions<DataError>([&] { TextDataset dataset({.path = path}); },
                                   {path.string(), "does not exist"});
}

TEST(TextDataset, EmptyFileIsDataErrorNamingIt) {
  DataTestDirectory directory;
  const std::filesystem::path path = directory.write("empty.txt", "");
  expect_error_mentions<DataError>([&] { TextDataset dataset({.path = path}); },
                                   {path.string(), "is empty"});
}

TEST(TextDataset, DirectoryInsteadOfFileIsDataErrorNamingIt) {
  DataTestDirectory directory;
  expect_error_mentions<DataError>([&] { TextDataset dataset({.path = directory.root()}); },
                                   {directory.root().string(), "is a directory"});
}

TEST(TextDataset, UnreadableFileIsDataErrorNamingIt) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads files regardless of their permissions";
  DataTestDirectory directory;
  const std::filesystem::path path = directory.write("secret.txt", numbered_text(100));
  ::chmod(path.c_str(), 0);
  expect_error_mentions<DataError>([&] { TextDataset dataset({.path = path}); },
                                   {path.string(), "cannot be opened"});
}

TEST(TextDataset, InvalidUtf8AtCharacterLevelNamesFileAndOffset) {
  DataTestDirectory directory;
  const std::filesystem::path path = directory.write("latin1.txt", "caf\xe9 au lait, please\n");
  expect_error_mentions<DataError>(
      [&] { TextDataset dataset({.path = path, .vocabulary_kind = VocabularyKind::character}); },
      {path.string(), "byte offset 3"});
  // The byte-level vocabulary takes the same file.
  TextDataset bytes({.path = path,
                     .vocabulary_kind = VocabularyKind::byte,
                     .validation_fraction = 0.0,
                     .batch_size = 2,
                     .sequence_length = 4});
  EXPECT_EQ(bytes.training_symbol_count(), 21);
}

TEST(TextDataset, TextTooShortForTheStreamsIsDataError) {
  DataTestDirectory directory;
  const std::filesystem::path path = directory.write("tiny.txt", "abcd");
  expect_error_mentions<DataError>(
      [&] { TextDataset dataset({.path = path, .validation_fraction = 0.0, .batch_size = 4}); },
      {path.string(), "parallel streams"});
  expect_error_mentions<DataError>(
      [&] {
        TextDataset dataset({.path = directory.write("small.txt", numbered_text(50)),
                             .validation_fraction = 0.1,
                             .batch_size = 4,
                             .validation_batch_size = 8});
      },
      {"small.txt", "validation streams"});
}

TEST(TextDataset, OptionsOutOfRangeAreConfigErrors) {
  DataTestDirectory directory;
  const std::filesystem::path path = directory.write("text.txt", numbered_text(100));
  EXPECT_THROW(TextDataset({.path = path, .batch_size = 0}), ConfigError);
  EXPECT_THROW(TextDataset({.path = path, .sequence_length = 0}), ConfigError);
  EXPECT_THROW(TextDataset({.path = path, .validation_fraction = 1.0}), ConfigError);
}

}  // namespace
}  // namespace seqtrain
