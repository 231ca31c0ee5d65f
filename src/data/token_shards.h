// TokenShards: a text corpus tokenised once into binary shard files of token
// ids, read back memory-mapped at training time. docs/data_formats.md
// ("Prepared token shards") gives the format in full.
//
// Documents are the corpus's blank-line-separated blocks of lines (a fortune,
// a paragraph, an article; a file's end ends one too); each is encoded whole,
// its newlines as spaces, and one that encodes to no tokens is dropped. A
// fraction of the documents, chosen by seeded selection sampling (exactly
// round(count x fraction) of them) and kept in corpus order, is the
// validation split. Each split is stored as shards of whole documents:
//   <split>-NNNNN.tokens     the token ids, little-endian uint16 when the
//                            vocabulary has at most 65536 ids, else int32
//   <split>-NNNNN.documents  int64 little-endian offsets into the shard's
//                            tokens: document i is [offset[i], offset[i+1]);
//                            offset[0] = 0, the last = the shard's token count
//   manifest.json            format, version, vocabulary size, token dtype,
//                            tokenizer checksum, split seed and fraction, and
//                            per shard its file names and counts
// Every file is written atomically (temp file, fsync, rename), the manifest
// last, after the old one is removed: a directory with a manifest is complete,
// and files are replaced, never rewritten in place, so a reader's mapping stays
// valid while a new prepare runs.
//
// Preparing streams the corpus (data/corpus_files.h) in bounded memory: one
// pass counts its documents, a second encodes them in batches on every
// OpenMP thread and writes each shard as it fills. After every shard,
// preparation_progress.json records what is written and where the corpus
// stands; a prepare of the same corpus files (same sizes and times), the same
// tokenizer and options that finds it carries on from there and writes the
// same files an uninterrupted prepare writes.
//
// Opening maps every shard and checks it against the manifest before anything
// is read: file sizes, document offsets (from 0, increasing, ending at the
// token count) and every token id below the vocabulary size. Any mismatch,
// truncation or corruption is a DataError naming the file, so reading
// afterwards never leaves the mapped bytes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "data/corpus_files.h"
#include "data/sentencepiece_tokenizer.h"
#include "io/mapped_file.h"

namespace seqtrain {

enum class TokenDType { uint16, int32 };
const char* token_dtype_name(TokenDType dtype);
// uint16 for vocabularies of at most 65536 ids, int32 beyond.
TokenDType token_dtype_for_vocab_size(std::int64_t vocab_size);

struct TokenShardsOptions {
  // Share of the documents held out for validation, in [0, 1). With a
  // positive fraction at least one document is held out and at least one kept.
  double validation_fraction = 0.05;
  // Seeds the permutation that picks the validation documents.
  std::uint64_t split_seed = 0;
  // A shard closes at the first document boundary at or past this many tokens
  // (a longer document makes a shard of its own).
  std::int64_t max_tokens_per_shard = std::int64_t{1} << 26;
  // Told how tokenising goes ("tokenised 120.0 of 480.0 MB (25%)"), about
  // every few seconds, when set; not part of what the shards depend on.
  std::function<void(const std::string&)> progress = nullptr;
  // Called after each shard and the progress record are written (tests stop a
  // prepare there to resume it).
  std::function<void()> after_shard = nullptr;
};

// The blank-line-separated documents of a corpus: each a run of lines with
// non-whitespace text, joined by "\n" ("\r" before a newline dropped).
std::vector<std::string> split_corpus_documents(std::string_view text);

// One split (training or validation) of the prepared corpus: its documents in
// corpus order, over all its shards. It holds a few numbers per shard, not per
// document: a document's place is read from its shard's mapped offsets, so a
// corpus of many millions of documents costs no index in memory.
class TokenSplit {
 public:
  std::int64_t document_count() const { return document_count_; }
  std::int64_t token_count() const { return token_count_; }
  std::int64_t document_length(std::int64_t document) const;
  // Copies tokens [offset, offset + count) of a document into out as int32.
  // Indices outside the document are an InternalError.
  void copy_tokens(std::int64_t document, std::int64_t offset, std::int64_t count,
                   std::int32_t* out) const;
  std::vector<std::int32_t> document_tokens(std::int64_t document) const;

 private:
  friend class TokenShards;
  struct Shard {
    MappedFile tokens;
    MappedFile offsets;  // document_count + 1 int64, checked by TokenShards::open
    std::int64_t first_document = 0;  // the split's index of its first document
  };
  // The shard holding a document, and the document's offsets in it.
  struct Place {
    const Shard* shard;
    std::int64_t begin, end;
  };
  Place place(std::int64_t document) const;

  TokenDType dtype_ = TokenDType::uint16;
  std::vector<Shard> shards_;
  std::int64_t document_count_ = 0;
  std::int64_t token_count_ = 0;
};

class TokenShards {
 public:
  static constexpr const char* kManifestFileName = "manifest.json";
  static constexpr const char* kProgressFileName = "preparation_progress.json";
  static constexpr const char* kFormatName = "seqtrain.token_shards";
  static constexpr int kFormatVersion = 1;

  // Tokenises the corpus with `tokenizer` and writes the shards and manifest
  // into output_directory (created), resuming an interrupted prepare of the
  // same request. Throws DataError for a blank corpus and for a corpus with
  // too few documents to hold out a validation split (IoError for files that
  // cannot be read); ConfigError for options out of range.
  static TokenShards prepare(const std::vector<CorpusFile>& corpus,
                             const SentencePieceTokenizer& tokenizer,
                             const std::filesystem::path& output_directory,
                             const TokenShardsOptions& options);
  // The same for one corpus file.
  static TokenShards prepare(const std::filesystem::path& corpus,
                             const SentencePieceTokenizer& tokenizer,
                             const std::filesystem::path& output_directory,
                             const TokenShardsOptions& options);

  // Maps and checks a prepared directory (see above). DataError naming the
  // file on any problem.
  static TokenShards open(const std::filesystem::path& directory);

  // DataError when the shards were prepared with another tokenizer model.
  void require_tokenizer(const SentencePieceTokenizer& tokenizer) const;

  const TokenSplit& training() const { return training_; }
  const TokenSplit& validation() const { return validation_; }
  std::int64_t vocab_size() const { return vocab_size_; }
  TokenDType token_dtype() const { return training_.dtype_; }
  const std::string& tokenizer_checksum() const { return tokenizer_checksum_; }
  const std::filesystem::path& directory() const { return directory_; }

 private:
  std::filesystem::path directory_;
  std::int64_t vocab_size_ = 0;
  std::string tokenizer_checksum_;
  TokenSplit training_;
  TokenSplit validation_;
};

}  // namespace seqtrain
