// The masked-LM data of a run: the SentencePiece tokenizer and the token
// shards of data.path (a file or a glob pattern), prepared on first use into
// the run's data directory (data.cache_dir, or <run_dir>/data) and reused
// afterwards (resume, eval, another run pointed at the same cache) while the
// corpus bytes and the options stay the same; or the shards and tokenizer of
// data.shards, made by `seqtrain data prepare`, used as they are.
//
// Without data.tokenizer.path, prepare_mlm_corpus (data/mlm_corpus_preparation.h)
// trains the tokenizer and prepares the shards. With it, that tokenizer is
// loaded and only the shards are prepared, recorded in shards_preparation.json
// (corpus, its files and checksum, tokenizer checksum, split options) so that a
// changed corpus or tokenizer is noticed and prepared again.
//
// The validation documents are chosen with a fixed split seed (0), not the
// run's seed: runs that differ only in seed validate on the same text.
#pragma once

#include <filesystem>
#include <memory>

#include "config/run_config.h"
#include "data/sentencepiece_tokenizer.h"
#include "data/token_shards.h"

namespace seqtrain {

struct MlmRunData {
  SentencePieceTokenizer tokenizer;
  std::shared_ptr<const TokenShards> shards;
};

std::filesystem::path mlm_data_directory(const RunConfig& config,
                                         const std::filesystem::path& run_dir);

// Logs what it prepared or reused. Throws DataError for a missing, empty or
// unusable corpus or tokenizer, naming it. existing_run (resumed or
// evaluated): when the corpus is gone, the prepared data is used as it is,
// with a warning (without prepared data it is the error); when its files have
// the recorded sizes and times, they are not read again.
MlmRunData prepare_mlm_run_data(const RunConfig& config, const std::filesystem::path& run_dir,
                                bool existing_run = false);

}  // namespace seqtrain
