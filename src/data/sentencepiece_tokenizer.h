// SentencePieceTokenizer: the subword tokenizer of masked-LM pretraining. The
// SentencePiece library (Kudo & Richardson 2018) trains a BPE model from a text
// corpus and encodes and decodes with it; this class fixes the options that
// make a model fit for BERT and reproducible, and saves and loads it.
//
// Special tokens sit at fixed ids in every model trained here, so datasets,
// models and checkpoints can name them as constants:
//   0 [PAD]   SentencePiece's pad piece (pad_id=0, pad_piece=[PAD])
//   1 [UNK]   the unknown piece (unk_id=1): characters outside the model
//   2 [CLS]   the begin-of-sentence piece (bos_id=2, bos_piece=[CLS])
//   3 [SEP]   the end-of-sentence piece (eos_id=3, eos_piece=[SEP])
//   4 [MASK]  the first control symbol (control_symbols=[MASK])
// [PAD], [CLS], [SEP] and [MASK] are control pieces: encoding text never
// produces them, even where the text spells "[MASK]". Ids 5 and up are the
// learned pieces.
//
// Training is deterministic: the same corpus bytes and options give the same
// model file, byte for byte. SentencePiece would otherwise sample and shuffle
// its input sentences (input_sentence_size, shuffle_input_sentence); we draw
// the sample of a large corpus ourselves from Philox (sample_bytes), every
// sampled line is used in file order, and the trainer runs one thread (the
// thread count is recorded inside the model file, and BPE gains nothing from
// more).
//
// Text: the corpus is one or more files read as a stream
// (data/corpus_files.h); each non-blank line of it (or of its sample) is one
// training sentence (a trailing "\r" dropped). Encoding applies
// SentencePiece's nmt_nfkc normalisation (NFKC, control characters removed,
// runs of whitespace and newlines collapsed to one space), so
// decode(encode(text)) is the normalised text.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "data/corpus_files.h"
#include "io/fnv1a64.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace seqtrain {

inline constexpr std::int32_t kPadTokenId = 0;
inline constexpr std::int32_t kUnknownTokenId = 1;
inline constexpr std::int32_t kClsTokenId = 2;
inline constexpr std::int32_t kSepTokenId = 3;
inline constexpr std::int32_t kMaskTokenId = 4;
// Ids below this are the special tokens above.
inline constexpr std::int32_t kFirstRegularTokenId = 5;

struct TokenizerTrainingOptions {
  // Pieces in the model, special tokens included. SentencePiece refuses a size
  // smaller than the corpus's distinct characters plus the special tokens, or
  // larger than the corpus can fill; both are DataErrors saying so.
  std::int64_t vocab_size = 8000;
  // Share of the corpus's characters the model covers; rarer characters become
  // [UNK]. SentencePiece's default for languages with small alphabets.
  double character_coverage = 0.9995;
  // Lines longer than this many bytes are left out of training (not of
  // encoding): SentencePiece's max_sentence_length.
  std::int64_t max_line_bytes = 65536;
  // A corpus larger than this is sampled: each line kept with probability
  // sample_bytes / corpus bytes (deterministically), so training holds about
  // this much text whatever the corpus's size (SentencePiece's own
  // input_sentence_size, drawn by us so that the sample is reproducible).
  std::int64_t sample_bytes = std::int64_t{64} << 20;
};

class SentencePieceTokenizer {
 public:
  // File names inside a tokenizer directory.
  static constexpr const char* kModelFileName = "tokenizer.model";  // the serialized model
  static constexpr const char* kVocabFileName = "tokenizer.vocab";  // "piece<TAB>score", line = id

  // Trains on the corpus file and writes output_directory/tokenizer.model and
  // tokenizer.vocab (each atomically; the directory is created). Throws
  // DataError naming the corpus when it is missing, unreadable, empty or holds
  // only blank lines, or when SentencePiece refuses it (vocabulary size out of
  // reach for this corpus); ConfigError for options out of range.
  static SentencePieceTokenizer train(const std::vector<CorpusFile>& corpus,
                                      const std::filesystem::path& output_directory,
                                      const TokenizerTrainingOptions& options);
  static SentencePieceTokenizer train(const std::filesystem::path& corpus,
                                      const std::filesystem::path& output_directory,
                                      const TokenizerTrainingOptions& options);

  // Loads a tokenizer directory (or its tokenizer.model file directly). Throws
  // DataError naming the path when it is missing, is not a SentencePiece model,
  // or its special tokens are not the ones above.
  static SentencePieceTokenizer load(const std::filesystem::path& directory_or_model);

  // Token ids of text; newlines are whitespace like any other.
  std::vector<std::int32_t> encode(std::string_view text) const;
  // The same, except that the special tokens spelled out in text ("[MASK]",
  // "[CLS]", ...) become their ids, the text between them encoded piece by
  // piece, as Hugging Face's tokenizer.json reads it (fill-mask input).
  std::vector<std::int32_t> encode_with_special_tokens(std::string_view text) const;
  // Text of ids; special tokens other than [UNK] decode to nothing, [UNK] to " ⁇ ".
  // An id outside the vocabulary is an InternalError (the caller's bug).
  std::string decode(std::span<const std::int32_t> ids) const;

  std::int64_t vocab_size() const;
  std::string piece(std::int32_t id) const;
  // Identifies the model file's bytes ("fnv1a64:<16 hex digits>"), recorded in
  // prepared token shards so shards are never read with another tokenizer.
  const std::string& checksum() const { return checksum_; }
  // The model file it was loaded from or saved to.
  const std::filesystem::path& model_path() const { return model_path_; }

 private:
  SentencePieceTokenizer(std::shared_ptr<const sentencepiece::SentencePieceProcessor> processor,
                         std::string checksum, std::filesystem::path model_path);
  static SentencePieceTokenizer from_model_bytes(const std::string& bytes,
                                                 const std::filesystem::path& model_path);

  std::shared_ptr<const sentencepiece::SentencePieceProcessor> processor_;
  std::string checksum_;
  std::filesystem::path model_path_;
};

}  // namespace seqtrain
