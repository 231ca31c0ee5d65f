#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "data/sentencepiece_tokenizer.h"
#include "data_mlm_test_support.h"
#include "data_test_support.h"
#include "seqtrain/error.h"

namespace seqtrain {
namespace {

using testing::DataTestDirectory;
using testing::expect_error_mentions;
using testing::generated_corpus;
using testing::kSmallVocabSize;


TEST(SentencePieceTokenizer, TrainsWithSpecialTokensAtFixedIds) {
  DataTestDirectory directory;
  const SentencePieceTokenizer tokenizer = SentencePieceTokenizer::train(
      directory.write("corpus.txt", generated_corpus(200)), directory.root() / "tokenizer",
      {.vocab_size = kSmallVocabSize});
  EXPECT_EQ(tokenizer.vocab_size(), kSmallVocabSize);
  EXPECT_EQ(tokenizer.piece(kPadTokenId), "[PAD]");
  EXPECT_EQ(tokenizer.piece(kUnknownTokenId), "[UNK]");
  EXPECT_EQ(tokenizer.piece(kClsTokenId), "[CLS]");
  EXPECT_EQ(tokenizer.piece(kSepTokenId), "[SEP]");
  EXPECT_EQ(tokenizer.piece(kMaskTokenId), "[MASK]");
  EXPECT_EQ(tokenizer.model_path(), directory.root() / "tokenizer" / "tokenizer.model");

  // The listing: one "piece<TAB>score" line per id, in id order.
  std::istringstream listing(testing::read_bytes(directory.root() / "tokenizer" / "tokenizer.vocab"));
  std::string line;
  std::int32_t id = 0;
  while (std::getline(listing, line)) {
    ASSERT_LT(id, kSmallVocabSize);
    EXPECT_EQ(line.substr(0, line.find('\t')), tokenizer.piece(id)) << "line " << id;
    ++id;
  }
  EXPECT_EQ(id, kSmallVocabSize);
}

TEST(SentencePieceTokenizer, EncodeDecodeRoundTripsAndNeverEmitsControlTokens) {
  DataTestDirectory directory;
  const SentencePieceTokenizer tokenizer = SentencePieceTokenizer::train(
      directory.write("corpus.txt", generated_corpus(200)), directory.root() / "tokenizer",
      {.vocab_size = kSmallVocabSize});
  const std::string text = "The quick brown fox jumps over the lazy dog. A friend reads!";
  const std::vector<std::int32_t> ids = tokenizer.encode(text);
  ASSERT_FALSE(ids.empty());
  // Subwords, not characters: frequent words merge, so there are fewer pieces
  // than non-space characters.
  EXPECT_LT(ids.size(), static_cast<std::size_t>(std::count_if(text.begin(), text.end(),
                                                               [](char c) { return c != ' '; })));
  for (std::int32_t id : ids) EXPECT_GE(id, kFirstRegularTokenId);
  EXPECT_EQ(tokenizer.decode(ids), text);

  // Newlines and runs of spaces normalise to one space.
  EXPECT_EQ(tokenizer.decode(tokenizer.encode("the  cat\nsat")), "the cat sat");
  // Text spelling a control piece is text; a character the corpus lacks is [UNK].
  const std::vector<std::int32_t> spelled = tokenizer.encode("[MASK] [CLS] \u2603");
  EXPECT_EQ(std::count(spelled.begin(), spelled.end(), kMaskTokenId), 0);
  EXPECT_EQ(std::count(spelled.begin(), spelled.end(), kClsTokenId), 0);
  EXPECT_GE(std::count(spelled.begin(), spelled.end(), kUnknownTokenId), 1);
  // Control pieces decode to nothing.
  std::vector<std::int32_t> framed = {kClsTokenId};
  framed.insert(framed.end(), ids.begin(), ids.end());
  framed.push_back(kSepTokenId);
  framed.push_back(kPadTokenId);
  EXPECT_EQ(tokenizer.decode(framed), text);
}

TEST(SentencePieceTokenizer, LoadGivesTheSameModel) {
  DataTestDirectory directory;
  const SentencePieceTokenizer trained = SentencePieceTokenizer::train(
      directory.write("corpus.txt", generated_corpus(200)), directory.root() / "tokenizer",
      {.vocab_size = kSmallVocabSize});
  const SentencePieceTokenizer loaded =
      SentencePieceTokenizer::load(directory.root() / "tokenizer");
  const SentencePieceTokenizer by_file =
      SentencePieceTokenizer::load(directory.root() / "tokenizer" / "tokenizer.model");
  EXPECT_EQ(loaded.checksum(), trained.checksum());
  EXPECT_EQ(by_file.checksum(), trained.checksum());
  EXPECT_EQ(loaded.checksum(),
            fnv1a64_checksum(testing::read_bytes(directory.root() / "tokenizer" / "tokenizer.model")));
  const std::string text = "Old people read a new book under the green tree.";
  EXPECT_EQ(loaded.encode(text), trained.encode(text));
  for (std::int32_t id = 0; id < kSmallVocabSize; ++id)
    EXPECT_EQ(loaded.piece(id), trained.piece(id));
}

TEST(SentencePieceTokenizer, TrainingIsDeterministic) {
  DataTestDirectory directory;
  const std::filesystem::path corpus = directory.write("corpus.txt", generated_corpus(300));
  const SentencePieceTokenizer first =
      SentencePieceTokenizer::train(corpus, directory.root() / "first", {.vocab_size = 150});
  const SentencePieceTokenizer second =
      SentencePieceTokenizer::train(corpus, directory.root() / "second", {.vocab_size = 150});
  EXPECT_EQ(testing::read_bytes(directory.root() / "first" / "tokenizer.model"),
            testing::read_bytes(directory.root() / "second" / "tokenizer.model"));
  EXPECT_EQ(testing::read_bytes(directory.root() / "first" / "tokenizer.vocab"),
            testing::read_bytes(directory.root() / "second" / "tokenizer.vocab"));
  EXPECT_EQ(first.checksum(), second.checksum());
  // Another corpus gives another model.
  const SentencePieceTokenizer other =
      SentencePieceTokenizer::train(directory.write("other.txt", generated_corpus(300, 8)),
                                    directory.root() / "other", {.vocab_size = 150});
  EXPECT_NE(other.checksum(), first.checksum());
}

TEST(SentencePieceTokenizer, CorpusErrorsNameTheFile) {
  DataTestDirectory directory;
  const std::filesystem::path output = directory.root() / "tokenizer";
  const std::filesystem::path missing = directory.root() / "missing.txt";
  expect_error_mentions<DataError>(
      [&] { SentencePieceTokenizer::train(missing, output, {.vocab_size = 100}); },
      {missing.string(), "does not exist"});
  const std::filesystem::path empty = directory.write("empty.txt", "");
  expect_error_mentions<DataError>(
      [&] { SentencePieceTokenizer::train(empty, output, {.vocab_size = 100}); },
      {empty.string(), "empty"});
  const std::filesystem::path blank = directory.write("blank.txt", "\n  \n\t\n");
  expect_error_mentions<DataError>(
      [&] { SentencePieceTokenizer::train(blank, output, {.vocab_size = 100}); },
      {blank.string(), "blank"});
  const std::filesystem::path tiny = directory.write("tiny.txt", "ab ab ab\n");
  expect_error_mentions<DataError>(
      [&] { SentencePieceTokenizer::train(tiny, output, {.vocab_size = 5000}); },
      {tiny.string(), "5000"});
  expect_error_mentions<ConfigError>(
      [&] { SentencePieceTokenizer::train(tiny, output, {.vocab_size = 3}); }, {"vocabulary size"});
  EXPECT_FALSE(std::filesystem::exists(output / "tokenizer.model"));
}

TEST(SentencePieceTokenizer, ModelErrorsNameTheFile) {
  DataTestDirectory directory;
  expect_error_mentions<DataError>(
      [&] { SentencePieceTokenizer::load(directory.root() / "nowhere"); },
      {(directory.root() / "nowhere").string(), "does not exist"});
  std::filesystem::create_directories(directory.root() / "empty_dir");
  expect_error_mentions<DataError>(
      [&] { SentencePieceTokenizer::load(directory.root() / "empty_dir"); },
      {(directory.root() / "empty_dir" / "tokenizer.model").string()});
  const std::filesystem::path corrupt = directory.write("corrupt.model", "not a model\x01\x02");
  expect_error_mentions<DataError>([&] { SentencePieceTokenizer::load(corrupt); },
                                   {corrupt.string(), "not a SentencePiece model"});

  // A real model cut short is corrupt too.
  SentencePieceTokenizer::train(directory.write("corpus.txt", generated_corpus(200)),
                                directory.root() / "tokenizer", {.vocab_size = kSmallVocabSize});
  const std::string bytes = testing::read_bytes(directory.root() / "tokenizer" / "tokenizer.model");
  const std::filesystem::path cut = directory.write("cut.model", bytes.substr(0, bytes.size() / 2));
  expect_error_mentions<DataError>([&] { SentencePieceTokenizer::load(cut); }, {cut.string()});
}

TEST(SentencePieceTokenizer, ChecksumIsFnv1a64) {
  // Reference values of 64-bit FNV-1a (Fowler, Noll, Vo).
  EXPECT_EQ(fnv1a64_checksum(""), "fnv1a64:cbf29ce484222325");
  EXPECT_EQ(fnv1a64_checksum("a"), "fnv1a64:af63dc4c8601ec8c");
  EXPECT_EQ(fnv1a64_checksum("foobar"), "fnv1a64:85944171f73967e8");
}

// A corpus larger than sample_bytes trains on a sample of lines drawn from
// all of it (not its first bytes), the same sample every time.
TEST(SentencePieceTokenizer, ALargeCorpusTrainsOnAReproducibleSampleOfAllOfIt) {
  DataTestDirectory directory;
  std::string text;
  for (int line = 0; line < 2000; ++line) text += "abcde fghij klm abc de fgh\n";
  for (int line = 0; line < 2000; ++line) text += "nopqr stuvw xyz nop qr stu\n";
  const std::filesystem::path corpus = directory.write("corpus.txt", text);
  const TokenizerTrainingOptions sampled{
      .vocab_size = 60, .character_coverage = 1.0, .sample_bytes = 20000};
  const SentencePieceTokenizer first =
      SentencePieceTokenizer::train(corpus, directory.root() / "first", sampled);
  const SentencePieceTokenizer second =
      SentencePieceTokenizer::train(corpus, directory.root() / "second", sampled);
  EXPECT_EQ(first.checksum(), second.checksum());
  for (const char* word : {"abcde", "xyz"}) {
    const std::vector<std::int32_t> ids = first.encode(word);
    EXPECT_EQ(std::count(ids.begin(), ids.end(), kUnknownTokenId), 0) << word;
  }
  const SentencePieceTokenizer whole = SentencePieceTokenizer::train(
      corpus, directory.root() / "whole", {.vocab_size = 60, .character_coverage = 1.0});
  EXPECT_NE(whole.checksum(), first.checksum());
  // A sample at least the corpus's size is all of it.
  const SentencePieceTokenizer unsampled = SentencePieceTokenizer::train(
      corpus, directory.root() / "unsampled",
      {.vocab_size = 60, .character_coverage = 1.0, .sample_bytes = 1 << 20});
  EXPECT_EQ(unsampled.checksum(), whole.checksum());
}

}  // namespace
}  // namespace seqtrain
