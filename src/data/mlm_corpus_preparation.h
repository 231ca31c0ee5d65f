// prepare_mlm_corpus: a raw text corpus made ready for masked-LM pretraining in
// one call, so a run can name only its corpus: the tokenizer is trained and
// the corpus tokenised into shards under a cache directory the first time, and
// reused afterwards while the corpus bytes and options stay the same.
//
// Layout of the cache directory:
//   tokenizer/         SentencePieceTokenizer::train's output
//   shards/            TokenShards::prepare's output
//   preparation.json   what they were made from: the corpus (data.path, a
//                      file or a glob pattern), its files with their sizes
//                      and times and the checksum of their bytes, every
//                      tokenizer and shard option, and the tokenizer checksum;
//                      written last
// A cache whose preparation.json differs from the current request, or whose
// tokenizer or shards no longer load, is rebuilt rather than used. The corpus
// is streamed, never held whole (data/corpus_files.h): a new run reads it once
// for its checksum; an existing run (eval, --resume) whose corpus files have
// the recorded sizes and times does not read it at all.
#pragma once

#include <filesystem>
#include <initializer_list>
#include <memory>
#include <nlohmann/json.hpp>

#include "data/corpus_files.h"
#include "data/sentencepiece_tokenizer.h"
#include "data/token_shards.h"

namespace seqtrain {

// The corpus of a preparation as it is now, and how a record of an earlier
// preparation is matched against it.
class CorpusState {
 public:
  // input: data.path, a file or a glob pattern. existing_run: an existing
  // run's eval or resume, which may use its prepared data when the corpus is
  // gone, and trusts equal file sizes and times for equal bytes.
  CorpusState(std::string input, bool existing_run);

  const std::string& input() const { return input_; }
  bool missing() const { return missing_; }
  // The files; IoError naming data.path when it is missing or unreadable.
  const std::vector<CorpusFile>& files() const;
  // What a record keeps of the corpus: "corpus_files" and "corpus_checksum".
  nlohmann::json record() const;
  // Whether a record (with the fields of record()) was made from this corpus:
  // any corpus when it is missing (an existing run), equal files when an
  // existing run's files have the recorded sizes and times, else an equal
  // checksum, computed once.
  bool matches(const nlohmann::json& record) const;

 private:
  const std::string& checksum() const;

  std::string input_;
  bool existing_run_ = false;
  bool missing_ = false;
  mutable std::vector<CorpusFile> files_;  // resolved when first needed
  mutable std::string checksum_;           // computed when first needed
};

struct MlmCorpusOptions {
  std::string corpus;  // data.path: a file or a glob pattern
  std::filesystem::path cache_directory;
  // An existing run evaluated or resumed: when the corpus does not exist,
  // reuse a cache whose record matches every other option (without one, the
  // missing corpus is the error as usual); when its files have the recorded
  // sizes and times, reuse the cache without reading them.
  bool existing_run = false;
  TokenizerTrainingOptions tokenizer = {};
  TokenShardsOptions shards = {};  // its progress also hears of the tokenizer's training
};

struct PreparedMlmCorpus {
  SentencePieceTokenizer tokenizer;
  std::shared_ptr<const TokenShards> shards;
  bool reused = false;  // true when the cache was current and nothing was rebuilt
  bool corpus_missing = false;  // reused without the corpus (an existing run)
};

// Whether a cache's preparation record was made for request from corpus: the
// record is request plus what corpus.record() writes (and any of
// ignored_fields), and corpus.matches it. Shared by this cache and the run's
// shards for a given tokenizer (tasks/mlm_run_data.cc).
bool preparation_record_matches(nlohmann::json record, const nlohmann::json& request,
                                const CorpusState& corpus,
                                std::initializer_list<const char*> ignored_fields = {});

// Throws what SentencePieceTokenizer::train and TokenShards::prepare throw
// (DataError naming the corpus, ConfigError for options out of range).
PreparedMlmCorpus prepare_mlm_corpus(const MlmCorpusOptions& options);

}  // namespace seqtrain
