#include "data/sentencepiece_tokenizer.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <algorithm>
#include <array>
#include <string_view>
#include <unordered_map>

#include "io/atomic_write.h"
#include "io/read_text_file.h"
#include "seqtrain/rng.h"
#include "seqtrain/error.h"

namespace seqtrain {
namespace {

// Philox stream of the lines a tokenizer learns from when it samples a corpus.
constexpr std::uint64_t kTokenizerSampleStream = 0x544F4B53414D5000ull;

constexpr std::array<std::string_view, kFirstRegularTokenId> kSpecialPieces = {
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};

// The non-blank lines of a corpus, "\r" dropped, as SentencePiece's input.
class CorpusLines final : public sentencepiece::SentenceIterator {
 public:
  explicit CorpusLines(std::string_view text) : text_(text) { advance(); }

  bool done() const override { return done_; }
  void Next() override { advance(); }
  const std::string& value() const override { return line_; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  void advance() {
    while (offset_ < text_.size()) {
      std::size_t end = text_.find('\n', offset_);
      if (end == std::string_view::npos) end = text_.size();
      std::string_view line = text_.substr(offset_, end - offset_);
      offset_ = end + 1;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.find_first_not_of(" \t\f\v") == std::string_view::npos) continue;
      line_.assign(line);
      return;
    }
    done_ = true;
  }

  std::string_view text_;
  std::size_t offset_ = 0;
  std::string line_;
  bool done_ = false;
};

// The lines SentencePiece learns from, in corpus order: all of them when the
// corpus has at most sample_bytes, else each line with probability
// sample_bytes / corpus bytes, drawn from Philox at the line's index (so the
// same corpus gives the same sample), read as a stream.
std::string training_sample(const std::vector<CorpusFile>& corpus, std::int64_t sample_bytes) {
  const double total = static_cast<double>(corpus_bytes(corpus));
  const double keep = std::min(1.0, static_cast<double>(sample_bytes) / total);
  const Rng draws(0, kTokenizerSampleStream);
  CorpusReader reader(corpus, "tokenizer training corpus");
  std::string sample;
  std::string_view line;
  while (reader.next_line(line)) {
    if (keep < 1.0 && draws.uniform_at(static_cast<std::uint64_t>(reader.position().lines)) >= keep)
      continue;
    sample += line;
    sample += '\n';
  }
  return sample;
}

bool has_non_blank_line(std::string_view text) {
  return text.find_first_not_of(" \t\f\v\r\n") != std::string_view::npos;
}

// SentencePiece's listing format: "piece<TAB>score" per line, line number = id.
std::string vocabulary_listing(const sentencepiece::SentencePieceProcessor& processor) {
  std::string listing;
  for (int id = 0; id < processor.GetPieceSize(); ++id)
    listing += fmt::format("{}\t{}\n", processor.IdToPiece(id), processor.GetScore(id));
  return listing;
}

}  // namespace

SentencePieceTokenizer::SentencePieceTokenizer(
    std::shared_ptr<const sentencepiece::SentencePieceProcessor> processor, std::string checksum,
    std::filesystem::path model_path)
    : processor_(std::move(processor)),
      checksum_(std::move(checksum)),
      model_path_(std::move(model_path)) {}

SentencePieceTokenizer SentencePieceTokenizer::from_model_bytes(
    const std::string& bytes, const std::filesystem::path& model_path) {
  auto processor = std::make_shared<sentencepiece::SentencePieceProcessor>();
  const sentencepiece::util::Status status = processor->LoadFromSerializedProto(bytes);
  if (!status.ok())
    throw DataError(
        fmt::format("tokenizer model '{}' is not a SentencePiece model ({}): train a new one with "
                    "`seqtrain tokenizer train`",
                    model_path.string(), status.ToString()));
  for (std::int32_t id = 0; id < kFirstRegularTokenId; ++id) {
    const bool present = id < processor->GetPieceSize();
    if (!present || processor->IdToPiece(id) != kSpecialPieces[id])
      throw DataError(fmt::format(
          "tokenizer model '{}' has '{}' at id {} where seqtrain needs '{}' ([PAD] [UNK] [CLS] "
          "[SEP] [MASK] at ids 0-4): train it with `seqtrain tokenizer train`",
          model_path.string(), present ? processor->IdToPiece(id) : "nothing", id,
          kSpecialPieces[id]));
  }
  return SentencePieceTokenizer(std::move(processor), fnv1a64_checksum(bytes), model_path);
}

SentencePieceTokenizer SentencePieceTokenizer::train(const std::filesystem::path& corpus,
                                                     const std::filesystem::path& output_directory,
                                                     const TokenizerTrainingOptions& options) {
  return train(std::vector<CorpusFile>{corpus_file(corpus, "tokenizer training corpus")},
               output_directory, options);
}

SentencePieceTokenizer SentencePieceTokenizer::train(const std::vector<CorpusFile>& corpus,
                                                     const std::filesystem::path& output_directory,
                                                     const TokenizerTrainingOptions& options) {
  if (options.vocab_size <= kFirstRegularTokenId || options.vocab_size > (1ll << 30))
    throw ConfigError(fmt::format(
        "tokenizer vocabulary size must be in [{}, 2^30] (the {} special tokens and at least one "
        "learned piece), got {}",
        kFirstRegularTokenId + 1, kFirstRegularTokenId, options.vocab_size));
  if (!(options.character_coverage > 0.0 && options.character_coverage <= 1.0))
    throw ConfigError(fmt::format("tokenizer character coverage must be in (0, 1], got {}",
                                  options.character_coverage));
  if (options.max_line_bytes < 1)
    throw ConfigError(
        fmt::format("tokenizer max line bytes must be at least 1, got {}", options.max_line_bytes));
  if (options.sample_bytes < 1)
    throw ConfigError(
        fmt::format("tokenizer sample bytes must be at least 1, got {}", options.sample_bytes));
  const std::string text = training_sample(corpus, options.sample_bytes);
  if (!has_non_blank_line(text))
    throw DataError(fmt::format(
        "tokenizer training corpus {} holds only blank lines: it must hold text to learn from",
        corpus_name(corpus)));

  const std::unordered_map<std::string, std::string> arguments = {
      {"model_type", "bpe"},
      {"vocab_size", std::to_string(options.vocab_size)},
      {"character_coverage", fmt::format("{}", options.character_coverage)},
      {"max_sentence_length", std::to_string(options.max_line_bytes)},
      {"pad_id", "0"},
      {"pad_piece", "[PAD]"},
      {"unk_id", "1"},
      {"unk_piece", "[UNK]"},
      {"bos_id", "2"},
      {"bos_piece", "[CLS]"},
      {"eos_id", "3"},
      {"eos_piece", "[SEP]"},
      {"control_symbols", "[MASK]"},
      // Every line of the sample, in file order, one thread: the same model
      // bytes every time.
      {"input_sentence_size", "0"},
      {"shuffle_input_sentence", "false"},
      {"num_threads", "1"},
      // SentencePiece logs every training stage and warning to stderr; its
      // errors come back in the status, which becomes one line of ours.
      {"minloglevel", "2"},
  };
  CorpusLines lines(text);
  std::string model_bytes;
  const sentencepiece::util::Status status =
      sentencepiece::SentencePieceTrainer::Train(arguments, &lines, &model_bytes);
  if (!status.ok())
    throw DataError(fmt::format(
        "SentencePiece cannot train a {}-piece tokenizer on {}: {} (a vocabulary size must fit "
        "the corpus: more pieces than its distinct characters, fewer than it can fill)",
        options.vocab_size, corpus_name(corpus), status.ToString()));

  std::error_code directory_error;
  std::filesystem::create_directories(output_directory, directory_error);
  if (directory_error)
    throw DataError(fmt::format("cannot create the tokenizer directory '{}': {}",
                                output_directory.string(), directory_error.message()));
  const std::filesystem::path model_path = output_directory / kModelFileName;
  SentencePieceTokenizer tokenizer = from_model_bytes(model_bytes, model_path);
  write_file_atomically(output_directory / kVocabFileName,
                        vocabulary_listing(*tokenizer.processor_));
  write_file_atomically(model_path, model_bytes);
  return tokenizer;
}

SentencePieceTokenizer SentencePieceTokenizer::load(
    const std::filesystem::path& directory_or_model) {
  std::error_code status_error;
  const bool is_directory = std::filesystem::is_directory(directory_or_model, status_error);
  const std::filesystem::path model_path =
      is_directory ? directory_or_model / kModelFileName : directory_or_model;
  if (!std::filesystem::exists(model_path, status_error))
    throw DataError(fmt::format(
        "tokenizer {} '{}' does not exist: train one with `seqtrain tokenizer train --input "
        "CORPUS --vocab-size N --output DIR` and give DIR (the directory holding {})",
        is_directory ? "model" : "directory or model", model_path.string(), kModelFileName));
  return from_model_bytes(read_text_file(model_path, "tokenizer model"), model_path);
}

std::vector<std::int32_t> SentencePieceTokenizer::encode(std::string_view text) const {
  std::vector<int> ids;
  const sentencepiece::util::Status status = processor_->Encode(text, &ids);
  SEQTRAIN_CHECK(status.ok(), "SentencePiece encode failed: {}", status.ToString());
  return {ids.begin(), ids.end()};
}

std::vector<std::int32_t> SentencePieceTokenizer::encode_with_special_tokens(
    std::string_view text) const {
  static constexpr std::string_view kSpecial[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  std::vector<std::int32_t> ids;
  std::size_t start = 0;
  while (start <= text.size()) {
    // The earliest special token from start (the first listed on a tie).
    std::size_t found = std::string_view::npos;
    std::int32_t found_id = 0;
    for (std::int32_t id = 0; id < kFirstRegularTokenId; ++id) {
      const std::size_t at = text.find(kSpecial[id], start);
      if (at < found) {
        found = at;
        found_id = id;
      }
    }
    const std::vector<std::int32_t> piece_ids =
        encode(text.substr(start, found == std::string_view::npos ? std::string_view::npos
                                                                   : found - start));
    ids.insert(ids.end(), piece_ids.begin(), piece_ids.end());
    if (found == std::string_view::npos) break;
    ids.push_back(found_id);
    start = found + kSpecial[found_id].size();
  }
  return ids;
}

std::string SentencePieceTokenizer::decode(std::span<const std::int32_t> ids) const {
  for (std::int32_t id : ids)
    SEQTRAIN_CHECK(id >= 0 && id < vocab_size(), "token id {} outside a vocabulary of {}", id,
                   vocab_size());
  std::string text;
  const sentencepiece::util::Status status =
      processor_->Decode(std::vector<int>(ids.begin(), ids.end()), &text);
  SEQTRAIN_CHECK(status.ok(), "SentencePiece decode failed: {}", status.ToString());
  return text;
}

std::int64_t SentencePieceTokenizer::vocab_size() const {
  return processor_->GetPieceSize();
}

std::string SentencePieceTokenizer::piece(std::int32_t id) const {
  SEQTRAIN_CHECK(id >= 0 && id < vocab_size(), "token id {} outside a vocabulary of {}", id,
                 vocab_size());
  return processor_->IdToPiece(id);
}

}  // namespace seqtrain
