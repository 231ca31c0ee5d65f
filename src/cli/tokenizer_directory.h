// A tokenizer directory as `seqtrain tokenizer train` and `seqtrain data
// prepare` leave it: tokenizer.model and tokenizer.vocab, and the Hugging Face
// files beside them (data/hf_tokenizer_files.h), so that transformers'
// AutoTokenizer reads it too.
#pragma once

#include <filesystem>
#include <vector>

#include "cli/commands.h"
#include "data/corpus_files.h"
#include "data/sentencepiece_tokenizer.h"

namespace seqtrain {

// --vocab-size, --character-coverage and --sample-mb of the commands that
// train a tokenizer (tokenizer train, data prepare).
struct TokenizerTrainingFlags {
  TokenizerTrainingOptions options;
  double sample_mb = static_cast<double>(TokenizerTrainingOptions{}.sample_bytes) / 1e6;

  TokenizerTrainingOptions resolved() const;  // options with sample_mb in bytes
};
void add_tokenizer_training_flags(CLI::App& command, TokenizerTrainingFlags& flags);

// Trains a tokenizer on the corpus into directory.
SentencePieceTokenizer train_tokenizer_directory(const std::vector<CorpusFile>& corpus,
                                                 const std::filesystem::path& directory,
                                                 const TokenizerTrainingOptions& options);

// Writes tokenizer's model, its vocabulary listing where one lies beside it,
// and the Hugging Face files into directory
// (nothing when it is the directory the tokenizer was loaded from) and
// returns the tokenizer loaded from there.
SentencePieceTokenizer copy_tokenizer_directory(const SentencePieceTokenizer& tokenizer,
                                                const std::filesystem::path& directory);

}  // namespace seqtrain
