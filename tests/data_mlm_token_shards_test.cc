#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "data/token_shards.h"
#include "data_mlm_test_support.h"
#include "data_test_support.h"
#include "seqtrain/error.h"

namespace seqtrain {
namespace {

using testing::DataTestDirectory;
using testing::expect_error_mentions;
using testing::generated_corpus;
using testing::kSmallVocabSize;


void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

nlohmann::json read_manifest(const std::filesystem::path& directory) {
  return nlohmann::json::parse(testing::read_bytes(directory / TokenShards::kManifestFileName));
}

void write_manifest(const std::filesystem::path& directory, const nlohmann::json& manifest) {
  write_bytes(directory / TokenShards::kManifestFileName, manifest.dump(2));
}

// A corpus, a tokenizer trained on it, and its shards prepared in several
// small shards with a quarter of the documents held out.
class TokenShardsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    corpus_ = directory_.write("corpus.txt", generated_corpus(120));
    tokenizer_.emplace(SentencePieceTokenizer::train(corpus_, directory_.root() / "tokenizer",
                                                     {.vocab_size = kSmallVocabSize}));
  }
  TokenShards prepare(double validation_fraction = 0.25, std::uint64_t split_seed = 0) {
    return TokenShards::prepare(corpus_, *tokenizer_, shards_directory(),
                                {.validation_fraction = validation_fraction,
                                 .split_seed = split_seed,
                                 .max_tokens_per_shard = 500});
  }
  std::filesystem::path shards_directory() const { return directory_.root() / "shards"; }

  DataTestDirectory directory_;
  std::filesystem::path corpus_;
  std::optional<SentencePieceTokenizer> tokenizer_;
};

TEST(TokenShardsFormat, CorpusDocumentsAreBlankLineSeparatedBlocks) {
  EXPECT_EQ(split_corpus_documents("a b\nc\n\n\n  \nd\r\ne\r\n\t\nf"),
            (std::vector<std::string>{"a b\nc", "d\ne", "f"}));
  EXPECT_TRUE(split_corpus_documents("\n \n").empty());
  EXPECT_EQ(token_dtype_for_vocab_size(65536), TokenDType::uint16);
  EXPECT_EQ(token_dtype_for_vocab_size(65537), TokenDType::int32);
}

TEST_F(TokenShardsTest, RoundTripKeepsEveryDocumentInOrder) {
  const TokenShards shards = prepare();
  // The documents, encoded independently of the shards.
  std::vector<std::vector<std::int32_t>> expected;
  for (const std::string& document : split_corpus_documents(testing::read_bytes(corpus_)))
    expected.push_back(tokenizer_->encode(document));
  ASSERT_EQ(expected.size(), 120u);

  EXPECT_EQ(shards.vocab_size(), kSmallVocabSize);
  EXPECT_EQ(shards.token_dtype(), TokenDType::uint16);
  EXPECT_EQ(shards.tokenizer_checksum(), tokenizer_->checksum());
  EXPECT_EQ(shards.validation().document_count(), 30);  // round(120 * 0.25)
  EXPECT_EQ(shards.training().document_count(), 90);

  // Each split holds its documents in corpus order; together they are all of them.
  std::vector<std::vector<std::int32_t>> training;
  std::vector<std::vector<std::int32_t>> validation;
  std::int64_t training_tokens = 0;
  for (std::int64_t d = 0; d < shards.training().document_count(); ++d) {
    training.push_back(shards.training().document_tokens(d));
    training_tokens += static_cast<std::int64_t>(training.back().size());
  }
  for (std::int64_t d = 0; d < shards.validation().document_count(); ++d)
    validation.push_back(shards.validation().document_tokens(d));
  EXPECT_EQ(shards.training().token_count(), training_tokens);
  std::size_t next_training = 0;
  std::size_t next_validation = 0;
  for (const std::vector<std::int32_t>& document : expected) {
    if (next_training < training.size() && training[next_training] == document)
      ++next_training;
    else if (next_validation < validation.size() && validation[next_validation] == document)
      ++next_validation;
    else
      FAIL() << "a corpus document is missing or out of order";
  }
  EXPECT_EQ(next_training, training.size());
  EXPECT_EQ(next_validation, validation.size());

  // Partial reads agree with whole documents.
  std::vector<std::int32_t> middle(3);
  shards.training().copy_tokens(5, 1, 3, middle.data());
  EXPECT_EQ(middle, std::vector<std::int32_t>(training[5].begin() + 1, training[5].begin() + 4));

  // Several shards of whole documents, listed in the manifest with their sizes.
  const nlohmann::json manifest = read_manifest(shards_directory());
  EXPECT_EQ(manifest["format"], "seqtrain.token_shards");
  EXPECT_EQ(manifest["version"], 1);
  EXPECT_EQ(manifest["token_dtype"], "uint16");
  const nlohmann::json& training_shards = manifest["splits"]["train"]["shards"];
  ASSERT_GT(training_shards.size(), 2u);
  for (const nlohmann::json& shard : training_shards)
    EXPECT_EQ(
        std::filesystem::file_size(shards_directory() / shard["tokens_file"].get<std::string>()),
        shard["token_count"].get<std::uint64_t>() * 2);
}

TEST_F(TokenShardsTest, ValidationSplitFollowsTheSeed) {
  auto validation_documents = [&](std::uint64_t seed) {
    const TokenShards shards = prepare(0.25, seed);
    std::vector<std::vector<std::int32_t>> documents;
    for (std::int64_t d = 0; d < shards.validation().document_count(); ++d)
      documents.push_back(shards.validation().document_tokens(d));
    return documents;
  };
  const auto first = validation_documents(1);
  EXPECT_EQ(validation_documents(1), first);
  EXPECT_NE(validation_documents(2), first);

  const TokenShards no_validation = prepare(0.0);
  EXPECT_EQ(no_validation.validation().document_count(), 0);
  EXPECT_EQ(no_validation.training().document_count(), 120);
}

TEST_F(TokenShardsTest, TruncatedShardIsADataErrorNamingTheFile) {
  prepare();
  const std::filesystem::path shard = shards_directory() / "train-00001.tokens";
  const std::string bytes = testing::read_bytes(shard);
  write_bytes(shard, bytes.substr(0, bytes.size() - 2));
  expect_error_mentions<DataError>([&] { TokenShards::open(shards_directory()); },
                                   {shard.string(), "bytes"});
  std::filesystem::remove(shard);
  expect_error_mentions<DataError>([&] { TokenShards::open(shards_directory()); },
                                   {shard.string()});
}

TEST_F(TokenShardsTest, DamagedDocumentIndexOrTokenIdsAreDataErrors) {
  prepare();
  const std::filesystem::path index = shards_directory() / "validation-00000.documents";
  std::string offsets = testing::read_bytes(index);
  const std::string original_offsets = offsets;
  offsets[15] = 0x7f;  // document 1 starts far past the shard's end
  write_bytes(index, offsets);
  expect_error_mentions<DataError>([&] { TokenShards::open(shards_directory()); },
                                   {index.string()});
  write_bytes(index, original_offsets);

  const std::filesystem::path tokens = shards_directory() / "train-00000.tokens";
  std::string ids = testing::read_bytes(tokens);
  ids[2] = static_cast<char>(0xff);  // token 1 becomes an id >= 65280
  ids[3] = static_cast<char>(0xff);
  write_bytes(tokens, ids);
  expect_error_mentions<DataError>([&] { TokenShards::open(shards_directory()); },
                                   {tokens.string(), "65535", "outside the vocabulary"});
}

TEST_F(TokenShardsTest, ManifestMismatchesAreDataErrorsNamingTheManifest) {
  prepare();
  const nlohmann::json original = read_manifest(shards_directory());
  const std::string manifest_path = (shards_directory() / "manifest.json").string();
  auto expect_rejected = [&](const std::function<void(nlohmann::json&)>& edit,
                             std::initializer_list<std::string> fragments) {
    nlohmann::json manifest = original;
    edit(manifest);
    write_manifest(shards_directory(), manifest);
    expect_error_mentions<DataError>([&] { TokenShards::open(shards_directory()); }, fragments);
  };
  // A shard's token count that its file does not hold.
  expect_rejected(
      [](nlohmann::json& m) {
        m["splits"]["train"]["shards"][0]["token_count"] =
            m["splits"]["train"]["shards"][0]["token_count"].get<std::int64_t>() + 1;
      },
      {"train-00000.tokens"});
  // A split total that its shards do not add up to.
  expect_rejected(
      [](nlohmann::json& m) {
        m["splits"]["validation"]["token_count"] =
            m["splits"]["validation"]["token_count"].get<std::int64_t>() + 1;
      },
      {manifest_path, "validation"});
  expect_rejected([](nlohmann::json& m) { m["version"] = 2; }, {manifest_path, "version 2"});
  expect_rejected([](nlohmann::json& m) { m["token_dtype"] = "int32"; },
                  {manifest_path, "token_dtype"});
  expect_rejected([](nlohmann::json& m) { m["vocab_size"] = 10; },
                  {"outside the vocabulary of 10"});
  expect_rejected(
      [](nlohmann::json& m) { m["splits"]["train"]["shards"][0]["tokens_file"] = "../corpus.txt"; },
      {manifest_path, "../corpus.txt"});
  expect_rejected([](nlohmann::json& m) { m.erase("splits"); }, {manifest_path, "splits"});
  write_bytes(shards_directory() / "manifest.json", "{\"format\": ");
  expect_error_mentions<DataError>([&] { TokenShards::open(shards_directory()); },
                                   {manifest_path, "not valid JSON"});
  std::filesystem::remove(shards_directory() / "manifest.json");
  expect_error_mentions<DataError>([&] { TokenShards::open(shards_directory()); },
                                   {shards_directory().string(), "manifest.json"});
  expect_error_mentions<DataError>([&] { TokenShards::open(directory_.root() / "nowhere"); },
                                   {(directory_.root() / "nowhere").string(), "data prepare"});
}

// Vocabularies above 65536 ids store int32 tokens: the same shards widened
// read back the same documents.
TEST_F(TokenShardsTest, Int32ShardsReadBackTheSameDocuments) {
  std::vector<std::vector<std::int32_t>> documents;
  {
    const TokenShards narrow = prepare();
    for (std::int64_t d = 0; d < narrow.training().document_count(); ++d)
      documents.push_back(narrow.training().document_tokens(d));
  }  // unmapped before its files are rewritten in place below
  nlohmann::json manifest = read_manifest(shards_directory());
  manifest["vocab_size"] = 70000;
  manifest["token_dtype"] = "int32";
  for (const char* split : {"train", "validation"}) {
    for (const nlohmann::json& shard : manifest["splits"][split]["shards"]) {
      const std::filesystem::path path =
          shards_directory() / shard["tokens_file"].get<std::string>();
      const std::string bytes = testing::read_bytes(path);
      std::vector<std::int32_t> wide(bytes.size() / 2);
      for (std::size_t i = 0; i < wide.size(); ++i)
        wide[i] = static_cast<unsigned char>(bytes[2 * i]) |
                  (static_cast<unsigned char>(bytes[2 * i + 1]) << 8);
      write_bytes(path, std::string(reinterpret_cast<const char*>(wide.data()), wide.size() * 4));
    }
  }
  write_manifest(shards_directory(), manifest);
  const TokenShards wide = TokenShards::open(shards_directory());
  EXPECT_EQ(wide.token_dtype(), TokenDType::int32);
  ASSERT_EQ(wide.training().document_count(), static_cast<std::int64_t>(documents.size()));
  for (std::int64_t d = 0; d < wide.training().document_count(); ++d)
    EXPECT_EQ(wide.training().document_tokens(d), documents[static_cast<std::size_t>(d)]);
}

TEST_F(TokenShardsTest, PreparingAgainLeavesOnlyTheNewShards) {
  const TokenShards many = prepare();
  ASSERT_TRUE(std::filesystem::exists(shards_directory() / "train-00002.tokens"));
  directory_.write("shards/notes.txt", "kept");
  const TokenShards one =
      TokenShards::prepare(corpus_, *tokenizer_, shards_directory(),
                           {.validation_fraction = 0.25, .max_tokens_per_shard = 1000000});
  EXPECT_EQ(one.training().token_count(), many.training().token_count());
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(shards_directory()))
    names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"manifest.json", "notes.txt", "train-00000.documents",
                                             "train-00000.tokens", "validation-00000.documents",
                                             "validation-00000.tokens"}));
}

TEST_F(TokenShardsTest, ShardsRefuseAnotherTokenizer) {
  const TokenShards shards = prepare();
  EXPECT_NO_THROW(shards.require_tokenizer(*tokenizer_));
  const SentencePieceTokenizer other =
      SentencePieceTokenizer::train(directory_.write("other.txt", generated_corpus(120, 99)),
                                    directory_.root() / "other", {.vocab_size = kSmallVocabSize});
  expect_error_mentions<DataError>([&] { shards.require_tokenizer(other); },
                                   {shards_directory().string(), "another tokenizer"});
}

TEST_F(TokenShardsTest, PrepareRefusesCorporaWithoutEnoughDocuments) {
  const std::filesystem::path one = directory_.write("one.txt", "The cat sat on the mat.\n");
  expect_error_mentions<DataError>(
      [&] {
        TokenShards::prepare(one, *tokenizer_, shards_directory(), {.validation_fraction = 0.1});
      },
      {one.string(), "validation"});
  const TokenShards single =
      TokenShards::prepare(one, *tokenizer_, shards_directory(), {.validation_fraction = 0.0});
  EXPECT_EQ(single.training().document_count(), 1);
  const std::filesystem::path blank = directory_.write("blank.txt", "\n\n");
  expect_error_mentions<DataError>(
      [&] { TokenShards::prepare(blank, *tokenizer_, shards_directory(), {}); }, {blank.string()});
  expect_error_mentions<ConfigError>(
      [&] {
        TokenShards::prepare(corpus_, *tokenizer_, shards_directory(),
                             {.validation_fraction = 1.0});
      },
      {"validation fraction"});
}

// Every file of a prepared directory, by name.
std::map<std::string, std::string> directory_files(const std::filesystem::path& directory) {
  std::map<std::string, std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(directory))
    files[entry.path().filename().string()] = testing::read_bytes(entry.path());
  return files;
}

// Several files (a glob) give the documents of their concatenation with a
// blank line between files, split the same way.
TEST_F(TokenShardsTest, SeveralFilesAreOneCorpus) {
  const std::string first = generated_corpus(70, 11), second = generated_corpus(50, 12);
  const std::filesystem::path parts = directory_.root() / "parts";
  std::filesystem::create_directories(parts);
  directory_.write("parts/a.txt", first);
  directory_.write("parts/b.txt", second);
  const std::filesystem::path joined = directory_.write("joined.txt", first + "\n\n" + second);
  const TokenShards from_parts = TokenShards::prepare(
      resolve_corpus_files({(parts / "*.txt").string()}, "corpus"), *tokenizer_,
      directory_.root() / "from_parts", {.validation_fraction = 0.2, .max_tokens_per_shard = 700});
  const TokenShards from_joined =
      TokenShards::prepare(joined, *tokenizer_, directory_.root() / "from_joined",
                           {.validation_fraction = 0.2, .max_tokens_per_shard = 700});
  for (const auto split : {&TokenShards::training, &TokenShards::validation}) {
    const TokenSplit& a = (from_parts.*split)();
    const TokenSplit& b = (from_joined.*split)();
    ASSERT_EQ(a.document_count(), b.document_count());
    for (std::int64_t d = 0; d < a.document_count(); ++d)
      EXPECT_EQ(a.document_tokens(d), b.document_tokens(d));
  }
  EXPECT_EQ(from_parts.validation().document_count(), 24);  // round(120 x 0.2)
  EXPECT_EQ(read_manifest(directory_.root() / "from_parts")["source"].size(), 2u);
}

// A prepare stopped after a few shards, run again, writes exactly the files
// an uninterrupted prepare writes, and starts where it stopped.
TEST_F(TokenShardsTest, AnInterruptedPrepareCarriesOnToTheSameFiles) {
  TokenShardsOptions options{.validation_fraction = 0.25, .max_tokens_per_shard = 300};
  int uninterrupted_calls = 0;
  options.after_shard = [&] { ++uninterrupted_calls; };
  TokenShards::prepare(corpus_, *tokenizer_, directory_.root() / "whole", options);
  options.after_shard = nullptr;
  const std::map<std::string, std::string> expected = directory_files(directory_.root() / "whole");
  ASSERT_GT(expected.size(), 8u);

  for (const int stop_after : {1, 3, 6}) {
    const std::filesystem::path out = directory_.root() / fmt::format("stopped{}", stop_after);
    TokenShardsOptions stopping = options;
    int shards = 0;
    stopping.after_shard = [&] {
      if (++shards == stop_after) throw std::runtime_error("interrupted");
    };
    EXPECT_THROW(TokenShards::prepare(corpus_, *tokenizer_, out, stopping), std::runtime_error);
    EXPECT_FALSE(std::filesystem::exists(out / TokenShards::kManifestFileName));
    EXPECT_TRUE(std::filesystem::exists(out / TokenShards::kProgressFileName));
    std::vector<std::string> messages;
    TokenShardsOptions resuming = options;
    resuming.progress = [&](const std::string& message) { messages.push_back(message); };
    int written_again = 0;
    resuming.after_shard = [&] { ++written_again; };
    TokenShards::prepare(corpus_, *tokenizer_, out, resuming);
    EXPECT_EQ(directory_files(out), expected) << "stopped after " << stop_after;
    ASSERT_FALSE(messages.empty());
    EXPECT_NE(messages.front().find("resuming an interrupted preparation"), std::string::npos);
    // Shards written before the stop are not written again.
    EXPECT_EQ(written_again, uninterrupted_calls - stop_after) << "stopped after " << stop_after;
  }
}

// A progress record of another corpus (or options) is not carried on from.
TEST_F(TokenShardsTest, ADifferentRequestStartsAfresh) {
  const std::filesystem::path out = directory_.root() / "out";
  TokenShardsOptions stopping{.validation_fraction = 0.25, .max_tokens_per_shard = 300};
  stopping.after_shard = [] { throw std::runtime_error("interrupted"); };
  EXPECT_THROW(TokenShards::prepare(corpus_, *tokenizer_, out, stopping), std::runtime_error);
  directory_.write("corpus.txt", generated_corpus(120, 5));  // other bytes, other size
  std::vector<std::string> messages;
  const TokenShards shards = TokenShards::prepare(
      corpus_, *tokenizer_, out,
      {.validation_fraction = 0.25,
       .max_tokens_per_shard = 300,
       .progress = [&](const std::string& message) { messages.push_back(message); }});
  for (const std::string& message : messages)
    EXPECT_EQ(message.find("resuming"), std::string::npos) << message;
  TokenShards::prepare(corpus_, *tokenizer_, directory_.root() / "fresh",
                       {.validation_fraction = 0.25, .max_tokens_per_shard = 300});
  EXPECT_EQ(directory_files(out), directory_files(directory_.root() / "fresh"));
}

}  // namespace
}  // namespace seqtrain
