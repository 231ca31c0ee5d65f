#include "data/token_shards.h"

#include <algorithm>
#include <chrono>
#include <bit>
#include <cmath>
#include <nlohmann/json.hpp>

#include "io/atomic_write.h"
#include "io/read_text_file.h"
#include "seqtrain/error.h"
#include "seqtrain/rng.h"

namespace seqtrain {
namespace {

static_assert(std::endian::native == std::endian::little,
              "token shards are little-endian and read in place");

constexpr std::string_view kFormatName = "seqtrain.token_shards";
// Philox stream of the permutation that picks the validation documents.
constexpr std::uint64_t kValidationSplitStream = 0x544B530000000000ull;
constexpr std::int64_t kMaxVocabSize = std::int64_t{1} << 30;
// Bounds a manifest's counts so that byte sizes computed from them cannot overflow.
constexpr std::int64_t kMaxShardCount = std::int64_t{1} << 40;

std::size_t token_width(TokenDType dtype) {
  return dtype == TokenDType::uint16 ? sizeof(std::uint16_t) : sizeof(std::int32_t);
}

// "<train|validation>-NNNNN.<tokens|documents>": the files prepare writes.
bool is_shard_file_name(std::string_view name) {
  for (std::string_view split : {"train-", "validation-"}) {
    if (!name.starts_with(split)) continue;
    std::string_view rest = name.substr(split.size());
    if (rest.size() < 6 || rest.find_first_not_of("0123456789") != 5) return false;
    rest.remove_prefix(5);
    return rest == ".tokens" || rest == ".documents";
  }
  return false;
}

bool is_blank(std::string_view line) {
  return line.find_first_not_of(" \t\f\v\r") == std::string_view::npos;
}

// One split's documents, token ids and document offsets, while preparing.
struct EncodedDocuments {
  std::vector<std::int32_t> tokens;
  std::vector<std::int64_t> offsets{0};  // document i is [offsets[i], offsets[i+1])

  std::int64_t count() const { return static_cast<std::int64_t>(offsets.size()) - 1; }
  std::span<const std::int32_t> document(std::int64_t index) const {
    return std::span(tokens).subspan(static_cast<std::size_t>(offsets[index]),
                                     static_cast<std::size_t>(offsets[index + 1] - offsets[index]));
  }
  void add(std::span<const std::int32_t> document) {
    tokens.insert(tokens.end(), document.begin(), document.end());
    offsets.push_back(static_cast<std::int64_t>(tokens.size()));
  }
};

template <class T>
std::span<const std::byte> bytes_of(const std::vector<T>& values) {
  return std::as_bytes(std::span(values));
}

// Writes one shard of documents [first, last) and returns its manifest entry.
nlohmann::json write_shard(const std::filesystem::path& directory, const std::string& split_name,
                           std::int64_t shard_index, const EncodedDocuments& documents,
                           std::int64_t first, std::int64_t last, TokenDType dtype) {
  const std::string stem = fmt::format("{}-{:05d}", split_name, shard_index);
  const std::int64_t begin = documents.offsets[first];
  const std::int64_t end = documents.offsets[last];
  std::vector<std::int64_t> offsets;
  offsets.reserve(static_cast<std::size_t>(last - first + 1));
  for (std::int64_t d = first; d <= last; ++d) offsets.push_back(documents.offsets[d] - begin);
  const auto ids =
      std::span(documents.tokens)
          .subspan(static_cast<std::size_t>(begin), static_cast<std::size_t>(end - begin));
  if (dtype == TokenDType::uint16) {
    std::vector<std::uint16_t> narrow(ids.begin(), ids.end());
    write_file_atomically(directory / (stem + ".tokens"), {bytes_of(narrow)});
  } else {
    write_file_atomically(directory / (stem + ".tokens"), {std::as_bytes(ids)});
  }
  write_file_atomically(directory / (stem + ".documents"), {bytes_of(offsets)});
  return {{"tokens_file", stem + ".tokens"},
          {"documents_file", stem + ".documents"},
          {"token_count", end - begin},
          {"document_count", last - first}};
}

nlohmann::json write_split(const std::filesystem::path& directory, const std::string& split_name,
                           const EncodedDocuments& documents, TokenDType dtype,
                           std::int64_t max_tokens_per_shard) {
  nlohmann::json shards = nlohmann::json::array();
  std::int64_t first = 0;
  for (std::int64_t d = 0; d < documents.count(); ++d) {
    const bool last_document = d + 1 == documents.count();
    if (last_document ||
        documents.offsets[d + 1] - documents.offsets[first] >= max_tokens_per_shard) {
      shards.push_back(write_shard(directory, split_name, static_cast<std::int64_t>(shards.size()),
                                   documents, first, d + 1, dtype));
      first = d + 1;
    }
  }
  return {{"document_count", documents.count()},
          {"token_count", static_cast<std::int64_t>(documents.tokens.size())},
          {"shards", std::move(shards)}};
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

std::int64_t TokenSplit::document_length(std::int64_t document) const {
  SEQTRAIN_CHECK(document >= 0 && document < document_count(), "document {} of {}", document,
                 document_count());
  return documents_[static_cast<std::size_t>(document)].length;
}

void TokenSplit::copy_tokens(std::int64_t document, std::int64_t offset, std::int64_t count,
                             std::int32_t* out) const {
  SEQTRAIN_CHECK(document >= 0 && document < document_count(), "document {} of {}", document,
                 document_count());
  const Document& where = documents_[static_cast<std::size_t>(document)];
  SEQTRAIN_CHECK(offset >= 0 && count >= 0 && offset + count <= where.length,
                 "tokens [{}, {}) of document {} ({} tokens)", offset, offset + count, document,
                 where.length);
  const std::byte* shard = shard_tokens_[static_cast<std::size_t>(where.shard)].bytes().data();
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

TokenShards TokenShards::prepare(const std::filesystem::path& corpus,
                                 const SentencePieceTokenizer& tokenizer,
                                 const std::filesystem::path& output_directory,
                                 const TokenShardsOptions& options) {
  if (!(options.validation_fraction >= 0.0 && options.validation_fraction < 1.0))
    throw ConfigError(
        fmt::format("validation fraction must be in [0, 1), got {}", options.validation_fraction));
  if (options.max_tokens_per_shard < 1)
    throw ConfigError(fmt::format("max tokens per shard must be at least 1, got {}",
                                  options.max_tokens_per_shard));
  const std::string text = read_text_file(corpus, "corpus");
  EncodedDocuments all;
  const std::vector<std::string> documents = split_corpus_documents(text);
  double bytes_total = 0.0, bytes_done = 0.0;
  for (const std::string& document : documents) bytes_total += static_cast<double>(document.size());
  auto last_report = std::chrono::steady_clock::now();
  for (const std::string& document : documents) {
    const std::vector<std::int32_t> ids = tokenizer.encode(document);
    if (!ids.empty()) all.add(ids);
    bytes_done += static_cast<double>(document.size());
    if (options.progress && std::chrono::steady_clock::now() - last_report > std::chrono::seconds(5)) {
      last_report = std::chrono::steady_clock::now();
      options.progress(fmt::format("tokenised {:.1f} of {:.1f} MB ({:.0f}%)", bytes_done / 1e6,
                                   bytes_total / 1e6, 100.0 * bytes_done / bytes_total));
    }
  }
  const std::int64_t document_count = all.count();
  if (document_count == 0)
    throw DataError(fmt::format("corpus '{}' holds no text that the tokenizer '{}' encodes",
                                corpus.string(), tokenizer.model_path().string()));

  // Held-out documents: the first validation_count of a seeded permutation.
  std::int64_t validation_count = 0;
  if (options.validation_fraction > 0.0) {
    if (document_count < 2)
      throw DataError(fmt::format(
          "corpus '{}' holds {} document (blank-line-separated block), too few to hold out a "
          "validation split: add documents (blocks separated by blank lines), or with seqtrain data "
          "prepare pass --validation-fraction 0",
          corpus.string(), document_count));
    validation_count = std::clamp<std::int64_t>(
        std::llround(static_cast<double>(document_count) * options.validation_fraction), 1,
        document_count - 1);
  }
  std::vector<std::int64_t> order(static_cast<std::size_t>(document_count));
  for (std::int64_t d = 0; d < document_count; ++d) order[static_cast<std::size_t>(d)] = d;
  Rng rng(options.split_seed, kValidationSplitStream);
  for (std::int64_t i = document_count - 1; i > 0; --i)
    std::swap(order[static_cast<std::size_t>(i)],
              order[rng.next_below(static_cast<std::uint64_t>(i + 1))]);
  std::vector<bool> held_out(static_cast<std::size_t>(document_count), false);
  for (std::int64_t i = 0; i < validation_count; ++i)
    held_out[static_cast<std::size_t>(order[static_cast<std::size_t>(i)])] = true;
  EncodedDocuments training;
  EncodedDocuments validation;
  for (std::int64_t d = 0; d < document_count; ++d)
    (held_out[static_cast<std::size_t>(d)] ? validation : training).add(all.document(d));
  all = {};

  std::error_code directory_error;
  std::filesystem::create_directories(output_directory, directory_error);
  if (directory_error)
    throw DataError(fmt::format("cannot create the prepared data directory '{}': {}",
                                output_directory.string(), directory_error.message()));
  // No manifest while shards change: a half-written directory never opens.
  // Shards of an earlier prepare go too, so none outlives its manifest.
  std::filesystem::remove(output_directory / kManifestFileName, directory_error);
  if (directory_error)
    throw DataError(fmt::format("cannot remove the old manifest in '{}': {}",
                                output_directory.string(), directory_error.message()));
  for (const std::filesystem::directory_entry& entry :
       std::filesystem::directory_iterator(output_directory)) {
    if (is_shard_file_name(entry.path().filename().string()))
      std::filesystem::remove(entry.path(), directory_error);
  }
  const TokenDType dtype = token_dtype_for_vocab_size(tokenizer.vocab_size());
  nlohmann::json manifest = {
      {"format", kFormatName},
      {"version", kFormatVersion},
      {"vocab_size", tokenizer.vocab_size()},
      {"token_dtype", token_dtype_name(dtype)},
      {"tokenizer_checksum", tokenizer.checksum()},
      {"source", corpus.string()},
      {"validation_fraction", options.validation_fraction},
      {"split_seed", options.split_seed},
      {"splits",
       {{"train",
         write_split(output_directory, "train", training, dtype, options.max_tokens_per_shard)},
        {"validation", write_split(output_directory, "validation", validation, dtype,
                                   options.max_tokens_per_shard)}}}};
  write_file_atomically(output_directory / kManifestFileName, manifest.dump(2) + "\n");
  return open(output_directory);
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
  if (!manifest.is_object() || manifest.value("format", "") != kFormatName)
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
      for (std::int64_t d = 0; d < document_count; ++d)
        split.documents_.push_back({static_cast<std::int32_t>(split.shard_tokens_.size()),
                                    offsets[d], offsets[d + 1] - offsets[d]});
      split.shard_tokens_.push_back(tokens);
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
