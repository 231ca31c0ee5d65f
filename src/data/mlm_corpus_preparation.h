// prepare_mlm_corpus: a raw text corpus made ready for masked-LM pretraining in
// one call, so a run can name only its corpus: the tokenizer is trained and
// the corpus tokenised into shards under a cache directory the first time, and
// reused afterwards while the corpus bytes and options stay the same.
//
// Layout of the cache directory:
//   tokenizer/         SentencePieceTokenizer::train's output
//   shards/            TokenShards::prepare's output
//   preparation.json   what they were made from: the corpus path and checksum
//                      (fnv1a64 of its bytes), every tokenizer and shard
//                      option, and the tokenizer checksum; written last
// A cache whose preparation.json differs from the current request, or whose
// tokenizer or shards no longer load, is rebuilt rather than used.
#pragma once

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "data/sentencepiece_tokenizer.h"
#include "data/token_shards.h"

namespace seqtrain {

struct MlmCorpusOptions {
  std::filesystem::path corpus;
  std::filesystem::path cache_directory;
  // When the corpus file does not exist, reuse a cache whose record matches
  // every other option (an existing run evaluated or resumed after its corpus
  // moved); without one, the missing corpus is the error as usual.
  bool reuse_without_corpus = false;
  TokenizerTrainingOptions tokenizer = {};
  TokenShardsOptions shards = {};  // its progress also hears of the tokenizer's training
};

struct PreparedMlmCorpus {
  SentencePieceTokenizer tokenizer;
  std::shared_ptr<const TokenShards> shards;
  bool reused = false;  // true when the cache was current and nothing was rebuilt
  bool corpus_missing = false;  // reused without the corpus (reuse_without_corpus)
};

// Whether a cache's preparation record was made for request: equal, except
// that a request without "corpus_checksum" (its corpus is gone, and an
// existing run may use what was prepared) accepts any recorded checksum.
// Shared by this cache and the run's shards for a given tokenizer
// (tasks/mlm_run_data.cc).
bool preparation_record_matches(nlohmann::json record, const nlohmann::json& request);

// Throws what SentencePieceTokenizer::train and TokenShards::prepare throw
// (DataError naming the corpus, ConfigError for options out of range).
PreparedMlmCorpus prepare_mlm_corpus(const MlmCorpusOptions& options);

}  // namespace seqtrain
