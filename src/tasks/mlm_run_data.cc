#include "tasks/mlm_run_data.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>

#include "data/mlm_corpus_preparation.h"
#include "io/atomic_write.h"
#include "io/read_file.h"
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
// (see CorpusState for how an existing run's corpus is matched).
std::shared_ptr<const TokenShards> shards_for_tokenizer(const RunConfig& config,
                                                        const SentencePieceTokenizer& tokenizer,
                                                        const fs::path& directory,
                                                        const CorpusState& corpus, bool& reused) {
  const TokenShardsOptions options = shard_options(config);
  const nlohmann::json request{{"format", "seqtrain.mlm_shards_preparation"},
                               {"version", 2},
                               {"corpus", corpus.input()},
                               {"tokenizer_checksum", tokenizer.checksum()},
                               {"validation_fraction", options.validation_fraction},
                               {"split_seed", options.split_seed},
                               {"max_tokens_per_shard", options.max_tokens_per_shard}};
  const fs::path record_path = directory / kShardsRecordFileName;
  const fs::path shards_path = directory / "shards";
  std::error_code ignored;
  if (fs::exists(record_path, ignored)) {
    try {
      if (preparation_record_matches(nlohmann::json::parse(read_file(record_path)), request,
                                     corpus)) {
        auto shards = std::make_shared<const TokenShards>(TokenShards::open(shards_path));
        shards->require_tokenizer(tokenizer);
        reused = true;
        return shards;
      }
    } catch (const Error&) {  // damaged or partial: prepared again below
    } catch (const nlohmann::json::exception&) {
    }
  }
  // Nothing to reuse: preparing needs the corpus (files() throws the error naming it).
  const std::vector<CorpusFile>& files = corpus.files();
  std::error_code error;
  fs::create_directories(directory, error);
  if (error)
    throw DataError(fmt::format("cannot create the data directory '{}': {}", directory.string(),
                                error.message()));
  fs::remove(record_path, ignored);
  auto shards = std::make_shared<const TokenShards>(
      TokenShards::prepare(files, tokenizer, shards_path, options));
  nlohmann::json record = request;
  record.update(corpus.record());
  write_file_atomically(record_path, record.dump(2) + "\n");
  reused = false;
  return shards;
}

// Data made by `seqtrain data prepare`: its shards, and its tokenizer (or
// data.tokenizer.path's, which must be the one the shards were made with).
MlmRunData prepared_shards(const RunConfig& config) {
  const fs::path directory = *config.data.shards;
  auto shards = std::make_shared<const TokenShards>(TokenShards::open(directory));
  const fs::path tokenizer_path =
      config.data.tokenizer.path ? fs::path(*config.data.tokenizer.path) : directory / "tokenizer";
  SentencePieceTokenizer tokenizer = SentencePieceTokenizer::load(tokenizer_path);
  shards->require_tokenizer(tokenizer);
  return MlmRunData{std::move(tokenizer), std::move(shards)};
}

}  // namespace

fs::path mlm_data_directory(const RunConfig& config, const fs::path& run_dir) {
  return config.data.cache_dir ? fs::path(*config.data.cache_dir) : run_dir / "data";
}

MlmRunData prepare_mlm_run_data(const RunConfig& config, const fs::path& run_dir,
                                bool existing_run) {
  SEQTRAIN_CHECK(config.task == Task::mlm && (config.data.path || config.data.shards),
                 "masked-LM data of a {} run", task_name(config.task));
  const auto start = std::chrono::steady_clock::now();
  if (config.data.shards) {
    MlmRunData data = prepared_shards(config);
    spdlog::info(
        "masked-LM data from {} (seqtrain data prepare) in {:.1f} s: tokenizer {} ({} pieces); "
        "train {} documents, {} tokens; validation {} documents, {} tokens",
        *config.data.shards,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
        data.tokenizer.model_path().string(), data.tokenizer.vocab_size(),
        data.shards->training().document_count(), data.shards->training().token_count(),
        data.shards->validation().document_count(), data.shards->validation().token_count());
    return data;
  }
  const fs::path directory = mlm_data_directory(config, run_dir);
  std::optional<MlmRunData> data;
  bool reused = false, corpus_missing = false;
  if (config.data.tokenizer.path) {
    SentencePieceTokenizer tokenizer = SentencePieceTokenizer::load(*config.data.tokenizer.path);
    const CorpusState corpus(*config.data.path, existing_run);
    auto shards = shards_for_tokenizer(config, tokenizer, directory, corpus, reused);
    corpus_missing = corpus.missing();
    data.emplace(MlmRunData{std::move(tokenizer), std::move(shards)});
  } else {
    MlmCorpusOptions options;
    options.corpus = *config.data.path;
    options.cache_directory = directory;
    options.tokenizer.vocab_size = config.data.tokenizer.vocab_size;
    options.tokenizer.character_coverage = config.data.tokenizer.character_coverage;
    options.tokenizer.sample_bytes = static_cast<std::int64_t>(config.data.tokenizer.sample_mb * 1e6);
    options.shards = shard_options(config);
    options.existing_run = existing_run;
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
