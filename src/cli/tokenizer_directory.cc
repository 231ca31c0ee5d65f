#include "cli/tokenizer_directory.h"

#include "data/hf_tokenizer_files.h"
#include "io/atomic_write.h"
#include "io/read_file.h"

namespace seqtrain {
namespace {

namespace fs = std::filesystem;

void write_hugging_face_files(const std::string& model_bytes, const fs::path& directory) {
  for (const auto& [name, text] : hugging_face_tokenizer_files(model_bytes, kHfDefaultMaxLength))
    write_file_atomically(directory / name, text);
}

}  // namespace

TokenizerTrainingOptions TokenizerTrainingFlags::resolved() const {
  TokenizerTrainingOptions resolved = options;
  resolved.sample_bytes = static_cast<std::int64_t>(sample_mb * 1e6);
  return resolved;
}

void add_tokenizer_training_flags(CLI::App& command, TokenizerTrainingFlags& flags) {
  command
      .add_option("--vocab-size", flags.options.vocab_size,
                  "Pieces in the vocabulary, the 5 special tokens included")
      ->capture_default_str();
  command
      .add_option("--character-coverage", flags.options.character_coverage,
                  "Share of the corpus's characters the model covers; rarer ones become [UNK]")
      ->capture_default_str();
  command
      .add_option("--sample-mb", flags.sample_mb,
                  "A corpus larger than this trains on a reproducible sample of its lines of "
                  "about this many MB")
      ->check(positive_finite_number())
      ->capture_default_str();
}

SentencePieceTokenizer train_tokenizer_directory(const std::vector<CorpusFile>& corpus,
                                                 const fs::path& directory,
                                                 const TokenizerTrainingOptions& options) {
  SentencePieceTokenizer trained = SentencePieceTokenizer::train(corpus, directory, options);
  write_hugging_face_files(read_file(trained.model_path()), directory);
  return trained;
}

SentencePieceTokenizer copy_tokenizer_directory(const SentencePieceTokenizer& tokenizer,
                                                const fs::path& directory) {
  const fs::path model = directory / SentencePieceTokenizer::kModelFileName;
  std::error_code ignored;
  if (fs::exists(model, ignored) && fs::equivalent(model, tokenizer.model_path(), ignored))
    return tokenizer;
  const std::string model_bytes = read_file(tokenizer.model_path(), "tokenizer model");
  fs::create_directories(directory);
  const fs::path vocabulary =
      tokenizer.model_path().parent_path() / SentencePieceTokenizer::kVocabFileName;
  if (fs::exists(vocabulary, ignored))
    write_file_atomically(directory / SentencePieceTokenizer::kVocabFileName,
                          read_file(vocabulary, "tokenizer vocabulary"));
  write_file_atomically(model, model_bytes);
  write_hugging_face_files(model_bytes, directory);
  return SentencePieceTokenizer::load(directory);
}

}  // namespace seqtrain
