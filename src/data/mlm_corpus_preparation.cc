#include "data/mlm_corpus_preparation.h"

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>

#include "io/atomic_write.h"
#include "io/read_text_file.h"
#include "seqtrain/error.h"

namespace seqtrain {
namespace {

constexpr const char* kRecordFileName = "preparation.json";

// Everything the cached tokenizer and shards depend on, except the tokenizer
// checksum that training produces; without the corpus's checksum when corpus
// is null (the corpus is gone).
nlohmann::json preparation_request(const MlmCorpusOptions& options, const std::string* corpus) {
  nlohmann::json request{{"format", "seqtrain.mlm_corpus_preparation"},
                         {"version", 1},
                         {"corpus", options.corpus.string()},
                         {"vocab_size", options.tokenizer.vocab_size},
                         {"character_coverage", options.tokenizer.character_coverage},
                         {"max_line_bytes", options.tokenizer.max_line_bytes},
                         {"validation_fraction", options.shards.validation_fraction},
                         {"split_seed", options.shards.split_seed},
                         {"max_tokens_per_shard", options.shards.max_tokens_per_shard}};
  if (corpus != nullptr) request["corpus_checksum"] = fnv1a64_checksum(*corpus);
  return request;
}

// The cached tokenizer and shards when the record matches the request and
// both load and agree; nothing otherwise.
std::optional<PreparedMlmCorpus> reuse_cache(const std::filesystem::path& directory,
                                             const nlohmann::json& request) {
  std::error_code ignored;
  if (!std::filesystem::exists(directory / kRecordFileName, ignored)) return std::nullopt;
  try {
    nlohmann::json record = nlohmann::json::parse(
        read_text_file(directory / kRecordFileName, "corpus preparation record"));
    if (!record.is_object() || !record.contains("tokenizer_checksum")) return std::nullopt;
    const nlohmann::json recorded_checksum = record["tokenizer_checksum"];
    record.erase("tokenizer_checksum");
    if (!preparation_record_matches(std::move(record), request)) return std::nullopt;
    SentencePieceTokenizer tokenizer = SentencePieceTokenizer::load(directory / "tokenizer");
    auto shards = std::make_shared<const TokenShards>(TokenShards::open(directory / "shards"));
    shards->require_tokenizer(tokenizer);
    if (recorded_checksum != tokenizer.checksum()) return std::nullopt;
    return PreparedMlmCorpus{std::move(tokenizer), std::move(shards), true, false};
  } catch (const Error&) {
    return std::nullopt;  // damaged or partial: rebuilt below
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

}  // namespace

bool preparation_record_matches(nlohmann::json record, const nlohmann::json& request) {
  if (record.is_object() && !request.contains("corpus_checksum")) record.erase("corpus_checksum");
  return record == request;
}

PreparedMlmCorpus prepare_mlm_corpus(const MlmCorpusOptions& options) {
  std::error_code ignored;
  if (options.reuse_without_corpus && !std::filesystem::exists(options.corpus, ignored)) {
    if (std::optional<PreparedMlmCorpus> cached =
            reuse_cache(options.cache_directory, preparation_request(options, nullptr))) {
      cached->corpus_missing = true;
      return std::move(*cached);
    }
  }
  const std::string corpus = read_text_file(options.corpus, "masked-LM corpus");
  nlohmann::json request = preparation_request(options, &corpus);
  if (std::optional<PreparedMlmCorpus> cached = reuse_cache(options.cache_directory, request))
    return std::move(*cached);

  std::error_code error;
  std::filesystem::create_directories(options.cache_directory, error);
  if (error)
    throw DataError(fmt::format("cannot create the corpus cache directory '{}': {}",
                                options.cache_directory.string(), error.message()));
  // No record while the cache changes: an interrupted rebuild is redone.
  std::filesystem::remove(options.cache_directory / kRecordFileName, error);
  // SentencePiece says nothing while it trains: say what it is doing, and how
  // long it took.
  const auto started = std::chrono::steady_clock::now();
  if (options.shards.progress)
    options.shards.progress(fmt::format(
        "training a {}-piece SentencePiece tokenizer on {:.1f} MB of text (no progress until it "
        "ends)",
        options.tokenizer.vocab_size, static_cast<double>(corpus.size()) / 1e6));
  SentencePieceTokenizer tokenizer = SentencePieceTokenizer::train(
      options.corpus, options.cache_directory / "tokenizer", options.tokenizer);
  if (options.shards.progress)
    options.shards.progress(fmt::format(
        "tokenizer trained in {:.1f} s; tokenising the corpus into shards",
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()));
  auto shards = std::make_shared<const TokenShards>(TokenShards::prepare(
      options.corpus, tokenizer, options.cache_directory / "shards", options.shards));
  request["tokenizer_checksum"] = tokenizer.checksum();
  write_file_atomically(options.cache_directory / kRecordFileName, request.dump(2) + "\n");
  return PreparedMlmCorpus{std::move(tokenizer), std::move(shards), false, false};
}

}  // namespace seqtrain
