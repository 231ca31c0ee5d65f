#include "data/token_shards.h"

#include <algorithm>
#include <bit>
#include <nlohmann/json.hpp>

#include "io/read_text_file.h"
#include "seqtrain/error.h"

namespace seqtrain {
namespace {

static_assert(std::endian::native == std::endian::little,
              "token shards are little-endian and read in place");

constexpr std::int64_t kMaxVocabSize = std::int64_t{1} << 30;
// Bounds a manifest's counts so that byte sizes computed from them cannot overflow.
constexpr std::int64_t kMaxShardCount = std::int64_t{1} << 40;

std::size_t token_width(TokenDType dtype) {
  return dtype == TokenDType::uint16 ? sizeof(std::uint16_t) : sizeof(std::int32_t);
}

bool is_blank(std::string_view line) {
  return line.find_first_not_of(" \t\f\v\r") == std::string_view::npos;
}

// Reads manifest fields with errors that name the manifest.
class ManifestReader {
 public:
  explicit ManifestReader(std::filesystem::path path) : path_(std::move(path)) {}

  [[noreturn]] void fail(const std::string& problem) const {
    throw DataError(
        fmt::format("token shard manifest '{}' {}: prepare the data again with "
                    "`seqtrain data prepare`",
                    path_.string(), problem));
  }
  const nlohmann::json& member(const nlohmann::json& object, const char* key,
                               const std::string& where) const {
    if (!object.is_object() || !object.contains(key))
      fail(fmt::format("lacks \"{}\"{}", key, where));
    return object[key];
  }
  std::int64_t count(const nlohmann::json& object, const char* key, const std::string& where,
                     std::int64_t low = 0, std::int64_t high = INT64_MAX) const {
    const nlohmann::json& value = member(object, key, where);
    if (!value.is_number_integer() || value.get<std::int64_t>() < low ||
        value.get<std::int64_t>() > high)
      fail(fmt::format("has \"{}\": {}{}, where an integer in [{}, {}] belongs", key, value.dump(),
                       where, low, high));
    return value.get<std::int64_t>();
  }
  std::string text(const nlohmann::json& object, const char* key, const std::string& where) const {
    const nlohmann::json& value = member(object, key, where);
    if (!value.is_string()) fail(fmt::format("has a non-string \"{}\"{}", key, where));
    return value.get<std::string>();
  }
  // A file name inside the shard directory: no separators, no "." or "..".
  std::string file_name(const nlohmann::json& object, const char* key,
                        const std::string& where) const {
    std::string name = text(object, key, where);
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos)
      fail(fmt::format("names \"{}\": \"{}\"{}, which is not a file name inside its directory", key,
                       name, where));
    return name;
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

[[noreturn]] void fail_shard_file(const std::filesystem::path& file, const std::string& problem) {
  throw DataError(
      fmt::format("token shard file '{}' {}: the file is truncated, damaged or from "
                  "another prepare; prepare the data again with `seqtrain data prepare`",
                  file.string(), problem));
}

template <class Token>
void check_token_ids(const MappedFile& file, std::int64_t vocab_size) {
  const auto* ids = reinterpret_cast<const Token*>(file.bytes().data());
  const std::size_t count = file.size() / sizeof(Token);
  for (std::size_t i = 0; i < count; ++i)
    if (static_cast<std::int64_t>(ids[i]) < 0 || static_cast<std::int64_t>(ids[i]) >= vocab_size)
      fail_shard_file(file.path(), fmt::format("holds token id {} at token {}, outside the "
                                               "vocabulary of {}",
                                               static_cast<std::int64_t>(ids[i]), i, vocab_size));
}

}  // namespace

const char* token_dtype_name(TokenDType dtype) {
  return dtype == TokenDType::uint16 ? "uint16" : "int32";
}

TokenDType token_dtype_for_vocab_size(std::int64_t vocab_size) {
  return vocab_size <= 65536 ? TokenDType::uint16 : TokenDType::int32;
}

std::vector<std::string> split_corpus_documents(std::string_view text) {
  std::vector<std::string> documents;
  std::string current;
  std::size_t offset = 0;
  while (offset < text.size()) {
    std::size_t end = text.find('\n', offset);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(offset, end - offset);
    offset = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (is_blank(line)) {
      if (!current.empty()) documents.push_back(std::move(current));
      current.clear();
      continue;
    }
    if (!current.empty()) current += '\n';
    current += line;
  }
  if (!current.empty()) documents.push_back(std::move(current));
  return documents;
}

TokenSplit::Place TokenSplit::place(std::int64_t document) const {
  SEQTRAIN_CHECK(document >= 0 && document < document_count(), "document {} of {}", document,
                 document_count());
  // The last shard whose first document is at or before this one.
  const auto after = std::upper_bound(
      shards_.begin(), shards_.end(), document,
      [](std::int64_t index, const Shard& shard) { return index < shard.first_document; });
  const Shard& shard = *(after - 1);
  const auto* offsets = reinterpret_cast<const std::int64_t*>(shard.offsets.bytes().data());
  const std::int64_t local = document - shard.first_document;
  return {&shard, offsets[local], offsets[local + 1]};
}

std::int64_t TokenSplit::document_length(std::int64_t document) const {
  const Place where = place(document);
  return where.end - where.begin;
}

void TokenSplit::copy_tokens(std::int64_t document, std::int64_t offset, std::int64_t count,
                             std::int32_t* out) const {
  const Place where = place(document);
  SEQTRAIN_CHECK(offset >= 0 && count >= 0 && offset + count <= where.end - where.begin,
                 "tokens [{}, {}) of document {} ({} tokens)", offset, offset + count, document,
                 where.end - where.begin);
  const std::byte* shard = where.shard->tokens.bytes().data();
  const std::int64_t first = where.begin + offset;
  if (dtype_ == TokenDType::uint16) {
    const auto* ids = reinterpret_cast<const std::uint16_t*>(shard) + first;
    std::copy(ids, ids + count, out);
  } else {
    const auto* ids = reinterpret_cast<const std::int32_t*>(shard) + first;
    std::copy(ids, ids + count, out);
  }
}

std::vector<std::int32_t> TokenSplit::document_tokens(std::int64_t document) const {
  std::vector<std::int32_t> ids(static_cast<std::size_t>(document_length(document)));
  copy_tokens(document, 0, static_cast<std::int64_t>(ids.size()), ids.data());
  return ids;
}

TokenShards TokenShards::open(const std::filesystem::path& directory) {
  std::error_code status_error;
  if (!std::filesystem::is_directory(directory, status_error))
    throw DataError(fmt::format(
        "prepared data directory '{}' does not exist: tokenise a corpus into it with `seqtrain "
        "data prepare --input CORPUS --tokenizer DIR --output {}`",
        directory.string(), directory.string()));
  const ManifestReader reader(directory / kManifestFileName);
  if (!std::filesystem::exists(reader.path(), status_error))
    throw DataError(fmt::format(
        "'{}' has no {}: it is not prepared data, or its prepare did not finish; run `seqtrain "
        "data prepare` again",
        directory.string(), kManifestFileName));
  nlohmann::json manifest;
  try {
    manifest = nlohmann::json::parse(read_text_file(reader.path(), "token shard manifest"));
  } catch (const nlohmann::json::exception& error) {
    reader.fail(fmt::format("is not valid JSON ({})", error.what()));
  }
  if (!manifest.is_object() || manifest.value("format", "") != std::string_view(kFormatName))
    reader.fail(fmt::format("is not a {} manifest", kFormatName));
  const std::int64_t version = reader.count(manifest, "version", "");
  if (version != kFormatVersion)
    reader.fail(fmt::format("has format version {}, but this seqtrain reads version {}", version,
                            kFormatVersion));

  TokenShards shards;
  shards.directory_ = directory;
  shards.vocab_size_ =
      reader.count(manifest, "vocab_size", "", kFirstRegularTokenId + 1, kMaxVocabSize);
  shards.tokenizer_checksum_ = reader.text(manifest, "tokenizer_checksum", "");
  const TokenDType dtype = token_dtype_for_vocab_size(shards.vocab_size_);
  const std::string dtype_name = reader.text(manifest, "token_dtype", "");
  if (dtype_name != token_dtype_name(dtype))
    reader.fail(fmt::format("has token_dtype \"{}\", but a vocabulary of {} is stored as \"{}\"",
                            dtype_name, shards.vocab_size_, token_dtype_name(dtype)));
  const nlohmann::json& splits = reader.member(manifest, "splits", "");

  auto load_split = [&](const char* name, TokenSplit& split) {
    const std::string where = fmt::format(" in split \"{}\"", name);
    const nlohmann::json& entry = reader.member(splits, name, " in \"splits\"");
    split.dtype_ = dtype;
    const std::int64_t document_total = reader.count(entry, "document_count", where);
    const std::int64_t token_total = reader.count(entry, "token_count", where);
    const nlohmann::json& shard_list = reader.member(entry, "shards", where);
    if (!shard_list.is_array()) reader.fail(fmt::format("has a non-array \"shards\"{}", where));
    for (std::size_t s = 0; s < shard_list.size(); ++s) {
      const std::string shard_where = fmt::format(" in shard {} of split \"{}\"", s, name);
      const nlohmann::json& shard = shard_list[s];
      const std::int64_t token_count =
          reader.count(shard, "token_count", shard_where, 1, kMaxShardCount);
      const std::int64_t document_count =
          reader.count(shard, "document_count", shard_where, 1, kMaxShardCount);
      const MappedFile tokens = MappedFile::open(
          directory / reader.file_name(shard, "tokens_file", shard_where), "token shard");
      const MappedFile offsets_file =
          MappedFile::open(directory / reader.file_name(shard, "documents_file", shard_where),
                           "token shard document index");
      const std::size_t expected_token_bytes =
          static_cast<std::size_t>(token_count) * token_width(dtype);
      if (tokens.size() != expected_token_bytes)
        fail_shard_file(
            tokens.path(),
            fmt::format("holds {} bytes, but the manifest lists {} {} tokens ({} bytes)",
                        tokens.size(), token_count, token_dtype_name(dtype), expected_token_bytes));
      const std::size_t expected_offset_bytes =
          static_cast<std::size_t>(document_count + 1) * sizeof(std::int64_t);
      if (offsets_file.size() != expected_offset_bytes)
        fail_shard_file(offsets_file.path(),
                        fmt::format("holds {} bytes, but the manifest lists {} documents ({} "
                                    "int64 offsets, {} bytes)",
                                    offsets_file.size(), document_count, document_count + 1,
                                    expected_offset_bytes));
      const auto* offsets = reinterpret_cast<const std::int64_t*>(offsets_file.bytes().data());
      if (offsets[0] != 0 || offsets[document_count] != token_count)
        fail_shard_file(offsets_file.path(),
                        fmt::format("starts at offset {} and ends at {}, not at 0 and the shard's "
                                    "{} tokens",
                                    offsets[0], offsets[document_count], token_count));
      for (std::int64_t d = 0; d < document_count; ++d)
        if (offsets[d + 1] <= offsets[d])
          fail_shard_file(offsets_file.path(),
                          fmt::format("gives document {} the offsets [{}, {}), which are not "
                                      "increasing",
                                      d, offsets[d], offsets[d + 1]));
      if (dtype == TokenDType::uint16)
        check_token_ids<std::uint16_t>(tokens, shards.vocab_size_);
      else
        check_token_ids<std::int32_t>(tokens, shards.vocab_size_);
      // Read once for the checks: the pages go back until training reads
      // them, so opening a corpus larger than memory does not fill it.
      tokens.release_pages();
      offsets_file.release_pages();
      split.shards_.push_back({tokens, offsets_file, split.document_count_});
      split.document_count_ += document_count;
      split.token_count_ += token_count;
    }
    if (split.document_count() != document_total || split.token_count() != token_total)
      reader.fail(fmt::format("lists {} documents and {} tokens{}, but its shards hold {} and {}",
                              document_total, token_total, where, split.document_count(),
                              split.token_count()));
  };
  load_split("train", shards.training_);
  load_split("validation", shards.validation_);
  if (shards.training_.document_count() == 0) reader.fail("lists no training documents");
  return shards;
}

void TokenShards::require_tokenizer(const SentencePieceTokenizer& tokenizer) const {
  if (tokenizer.checksum() != tokenizer_checksum_ || tokenizer.vocab_size() != vocab_size_)
    throw DataError(fmt::format(
        "prepared data '{}' was tokenised with another tokenizer (checksum {}, {} pieces) than "
        "'{}' ({}, {} pieces): prepare the data again with this tokenizer",
        directory_.string(), tokenizer_checksum_, vocab_size_, tokenizer.model_path().string(),
        tokenizer.checksum(), tokenizer.vocab_size()));
}

}  // namespace seqtrain
