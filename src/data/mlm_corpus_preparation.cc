#include "data/mlm_corpus_preparation.h"

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>

#include "io/atomic_write.h"
#include "io/read_file.h"
#include "seqtrain/error.h"

namespace seqtrain {
namespace {

namespace fs = std::filesystem;

constexpr const char* kRecordFileName = "preparation.json";
constexpr const char* kCorpusWhat = "masked-LM corpus";

// Everything the cached tokenizer and shards depend on but the corpus's bytes
// and the tokenizer checksum that training produces.
nlohmann::json preparation_request(const MlmCorpusOptions& options) {
  return {{"format", "seqtrain.mlm_corpus_preparation"},
          {"version", 2},
          {"corpus", options.corpus},
          {"vocab_size", options.tokenizer.vocab_size},
          {"character_coverage", options.tokenizer.character_coverage},
          {"max_line_bytes", options.tokenizer.max_line_bytes},
          {"sample_bytes", options.tokenizer.sample_bytes},
          {"validation_fraction", options.shards.validation_fraction},
          {"split_seed", options.shards.split_seed},
          {"max_tokens_per_shard", options.shards.max_tokens_per_shard}};
}

// The cached tokenizer and shards when the record matches the request and
// both load and agree; nothing otherwise.
std::optional<PreparedMlmCorpus> reuse_cache(const fs::path& directory,
                                             const nlohmann::json& request,
                                             const CorpusState& corpus) {
  std::error_code ignored;
  if (!fs::exists(directory / kRecordFileName, ignored)) return std::nullopt;
  try {
    const nlohmann::json record =
        nlohmann::json::parse(read_file(directory / kRecordFileName, "corpus preparation record"));
    if (!record.is_object() || !record.contains("tokenizer_checksum")) return std::nullopt;
    if (!preparation_record_matches(record, request, corpus, {"tokenizer_checksum"}))
      return std::nullopt;
    SentencePieceTokenizer tokenizer = SentencePieceTokenizer::load(directory / "tokenizer");
    auto shards = std::make_shared<const TokenShards>(TokenShards::open(directory / "shards"));
    shards->require_tokenizer(tokenizer);
    if (record["tokenizer_checksum"] != tokenizer.checksum()) return std::nullopt;
    return PreparedMlmCorpus{std::move(tokenizer), std::move(shards), true, corpus.missing()};
  } catch (const Error&) {
    return std::nullopt;  // damaged or partial: rebuilt below
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

}  // namespace

CorpusState::CorpusState(std::string input, bool existing_run)
    : input_(std::move(input)), existing_run_(existing_run) {
  if (!existing_run_) return;
  try {
    files_ = resolve_corpus_files({input_}, kCorpusWhat);
  } catch (const Error&) {
    missing_ = true;  // files() says why, if it comes to reading them
  }
}

const std::vector<CorpusFile>& CorpusState::files() const {
  if (files_.empty()) files_ = resolve_corpus_files({input_}, kCorpusWhat);
  return files_;
}

const std::string& CorpusState::checksum() const {
  if (checksum_.empty()) checksum_ = corpus_checksum(files(), kCorpusWhat);
  return checksum_;
}

nlohmann::json CorpusState::record() const {
  return {{"corpus_files", corpus_files_record(files())}, {"corpus_checksum", checksum()}};
}

bool CorpusState::matches(const nlohmann::json& record) const {
  if (!record.contains("corpus_files") || !record.contains("corpus_checksum")) return false;
  if (missing_) return true;
  if (existing_run_ && record["corpus_files"] == corpus_files_record(files())) return true;
  return record["corpus_checksum"] == checksum();
}

bool preparation_record_matches(nlohmann::json record, const nlohmann::json& request,
                                const CorpusState& corpus,
                                std::initializer_list<const char*> ignored_fields) {
  if (!record.is_object()) return false;
  // The options first: the corpus's checksum may read it all.
  nlohmann::json options = record;
  options.erase("corpus_files");
  options.erase("corpus_checksum");
  for (const char* field : ignored_fields) options.erase(field);
  return options == request && corpus.matches(record);
}

PreparedMlmCorpus prepare_mlm_corpus(const MlmCorpusOptions& options) {
  const CorpusState corpus(options.corpus, options.existing_run);
  const nlohmann::json request = preparation_request(options);
  if (std::optional<PreparedMlmCorpus> cached =
          reuse_cache(options.cache_directory, request, corpus))
    return std::move(*cached);

  std::error_code error;
  fs::create_directories(options.cache_directory, error);
  if (error)
    throw DataError(fmt::format("cannot create the corpus cache directory '{}': {}",
                                options.cache_directory.string(), error.message()));
  // No record while the cache changes: an interrupted rebuild is redone
  // (the shards carry on where they stopped: token_shards.h).
  fs::remove(options.cache_directory / kRecordFileName, error);
  const std::vector<CorpusFile>& files = corpus.files();
  // SentencePiece says nothing while it trains: say what it is doing, and how
  // long it took.
  const auto started = std::chrono::steady_clock::now();
  if (options.shards.progress)
    options.shards.progress(fmt::format(
        "training a {}-piece SentencePiece tokenizer on {:.1f} MB of text{} (no progress until "
        "it ends)",
        options.tokenizer.vocab_size, static_cast<double>(corpus_bytes(files)) / 1e6,
        corpus_bytes(files) > static_cast<std::uintmax_t>(options.tokenizer.sample_bytes)
            ? fmt::format(", a sample of about {:.1f} MB",
                          static_cast<double>(options.tokenizer.sample_bytes) / 1e6)
            : ""));
  SentencePieceTokenizer tokenizer = SentencePieceTokenizer::train(
      files, options.cache_directory / "tokenizer", options.tokenizer);
  if (options.shards.progress)
    options.shards.progress(fmt::format(
        "tokenizer trained in {:.1f} s; tokenising the corpus into shards",
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()));
  auto shards = std::make_shared<const TokenShards>(TokenShards::prepare(
      files, tokenizer, options.cache_directory / "shards", options.shards));
  nlohmann::json record = request;
  record.update(corpus.record());
  record["tokenizer_checksum"] = tokenizer.checksum();
  write_file_atomically(options.cache_directory / kRecordFileName, record.dump(2) + "\n");
  return PreparedMlmCorpus{std::move(tokenizer), std::move(shards), false, false};
}

}  // namespace seqtrain
