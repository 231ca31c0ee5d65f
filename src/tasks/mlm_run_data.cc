#include "tasks/mlm_run_data.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>

#include "data/mlm_corpus_preparation.h"
#include "io/atomic_write.h"
#include "io/read_file.h"
#include "io/read_text_file.h"
#include "seqtrain/error.h"

namespace seqtrain {
namespace {

namespace fs = std::filesystem;

constexpr std::uint64_t kSplitSeed = 0;
constexpr const char* kShardsRecordFileName = "shards_preparation.json";

TokenShardsOptions shard_options(const RunConfig& config) {
  TokenShardsOptions options;
  options.validation_fraction = config.data.validation_fraction;
  options.split_seed = kSplitSeed;
  // Long preparations (tokenizer training, tokenising a large corpus) say how they go.
  options.progress = [](const std::string& message) { spdlog::info("data preparation: {}", message); };
  return options;
}

// Shards of the corpus for a given tokenizer, reused when the record matches
// (any corpus checksum when the corpus is gone and reuse_without_corpus).
std::shared_ptr<const TokenShards> shards_for_tokenizer(const RunConfig& config,
                                                        const SentencePieceTokenizer& tokenizer,
                                                        const fs::path& directory,
                                                        bool reuse_without_corpus, bool& reused,
                                                        bool& corpus_missing) {
  const fs::path corpus = *config.data.path;
  const TokenShardsOptions options = shard_options(config);
  std::error_code ignored;
  corpus_missing = reuse_without_corpus && !fs::exists(corpus, ignored);
  nlohmann::json request{{"format", "seqtrain.mlm_shards_preparation"},
                         {"version", 1},
                         {"corpus", corpus.string()},
                         {"tokenizer_checksum", tokenizer.checksum()},
                         {"validation_fraction", options.validation_fraction},
                         {"split_seed", options.split_seed},
                         {"max_tokens_per_shard", options.max_tokens_per_shard}};
  if (!corpus_missing)
    request["corpus_checksum"] = fnv1a64_checksum(read_text_file(corpus, "masked-LM corpus"));
  const fs::path record_path = directory / kShardsRecordFileName;
  const fs::path shards_path = directory / "shards";
  if (fs::exists(record_path, ignored)) {
    try {
      if (preparation_record_matches(nlohmann::json::parse(read_file(record_path)), request)) {
        auto shards = std::make_shared<const TokenShards>(TokenShards::open(shards_path));
        shards->require_tokenizer(tokenizer);
        reused = true;
        return shards;
      }
    } catch (const Error&) {  // damaged or partial: prepared again below
    } catch (const nlohmann::json::exception&) {
    }
  }
  // Nothing to reuse: preparing needs the corpus (this read throws the error naming it).
  if (corpus_missing) read_text_file(corpus, "masked-LM corpus");
  std::error_code error;
  fs::create_directories(directory, error);
  if (error)
    throw DataError(fmt::format("cannot create the data directory '{}': {}", directory.string(),
                                error.message()));
  fs::remove(record_path, ignored);
  auto shards = std::make_shared<const TokenShards>(
      TokenShards::prepare(corpus, tokenizer, shards_path, options));
  write_file_atomically(record_path, request.dump(2) + "\n");
  reused = false;
  return shards;
}

}  // namespace

fs::path mlm_data_directory(const RunConfig& config, const fs::path& run_dir) {
  return config.data.cache_dir ? fs::path(*config.data.cache_dir) : run_dir / "data";
}

MlmRunData prepare_mlm_run_data(const RunConfig& config, const fs::path& run_dir,
                                bool reuse_without_corpus) {
  SEQTRAIN_CHECK(config.task == Task::mlm && config.data.path, "masked-LM data of a {} run",
                 task_name(config.task));
  const fs::path directory = mlm_data_directory(config, run_dir);
  const auto start = std::chrono::steady_clock::now();
  std::optional<MlmRunData> data;
  bool reused = false, corpus_missing = false;
  if (config.data.tokenizer.path) {
    SentencePieceTokenizer tokenizer = SentencePieceTokenizer::load(*config.data.tokenizer.path);
    auto shards = shards_for_tokenizer(config, tokenizer, directory, reuse_without_corpus, reused,
                                       corpus_missing);
    data.emplace(MlmRunData{std::move(tokenizer), std::move(shards)});
  } else {
    MlmCorpusOptions options;
    options.corpus = *config.data.path;
    options.cache_directory = directory;
    options.tokenizer.vocab_size = config.data.tokenizer.vocab_size;
    options.tokenizer.character_coverage = config.data.tokenizer.character_coverage;
    options.shards = shard_options(config);
    options.reuse_without_corpus = reuse_without_corpus;
    PreparedMlmCorpus prepared = prepare_mlm_corpus(options);
    reused = prepared.reused;
    corpus_missing = prepared.corpus_missing;
    data.emplace(MlmRunData{std::move(prepared.tokenizer), std::move(prepared.shards)});
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const TokenShards& shards = *data->shards;
  if (corpus_missing)
    spdlog::warn("the corpus {} is gone; using the run's prepared data in {} as it was made",
                 *config.data.path, directory.string());
  spdlog::info(
      "masked-LM data {} {} in {:.1f} s: tokenizer {} ({} pieces); train {} documents, {} "
      "tokens; validation {} documents, {} tokens",
      reused ? "reused from" : "prepared into", directory.string(), seconds,
      data->tokenizer.model_path().string(), data->tokenizer.vocab_size(),
      shards.training().document_count(), shards.training().token_count(),
      shards.validation().document_count(), shards.validation().token_count());
  return std::move(*data);
}

}  // namespace seqtrain
