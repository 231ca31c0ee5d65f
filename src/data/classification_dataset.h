// ClassificationDataset: sequence classification from text files, one example
// per line:
//
//   label<TAB>text
//
// The label is everything before the first tab (non-empty, compared exactly),
// the text everything after it (non-empty; further tabs belong to the text). A
// trailing "\r" is dropped, so CRLF files work; empty lines are skipped. Labels
// map to class ids as ClassLabels documents (sorted; numerically when all are
// integers). The text is split into symbols by the character vocabulary (bytes
// or UTF-8 code points) and truncated to its first T = max_length symbols.
//
// Validation comes from a separate file (every label in it must occur in the
// training file) or, without one, from validation_fraction of the training
// file's examples, chosen by a seeded permutation (so a file sorted by label
// still gives a mixed split); labels then come from the whole file. A character
// vocabulary is built from the training examples only; validation symbols it
// lacks become <unk>.
//
// Batch layout: tokens [T, B] i32 time-major, padded with kPaddingToken past
// each row's length; lengths [B] i32 in 1..T; targets [B] i32 class ids. Every
// epoch visits the training examples in a fresh order, a permutation drawn
// from Philox stream kShuffleStream + epoch under the seed, in floor(n / B) full
// batches (the last n mod B examples of that order sit the epoch out).
// Validation batches follow file order; the last one holds the remaining rows,
// so its batch dimension may be smaller than B. Position = (epoch, batch).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <vector>

#include "data/char_vocabulary.h"
#include "data/class_labels.h"
#include "data/epoch_position.h"
#include "data/sequence_dataset.h"

namespace seqtrain {

struct ClassificationDatasetOptions {
  std::filesystem::path train_path;
  std::optional<std::filesystem::path> validation_path = std::nullopt;  // else split train_path
  VocabularyKind vocabulary_kind = VocabularyKind::byte;
  double validation_fraction = 0.05;  // in [0, 1), used without validation_path
  std::int64_t batch_size = 32;       // B
  std::int64_t max_length = 128;      // T: longer texts keep their first T symbols
  std::uint64_t seed = 0;
};

// One parsed line: symbol ids (already truncated) and class id.
struct ClassificationExample {
  std::vector<std::int32_t> ids;
  std::int32_t label = 0;
  std::int64_t line = 0;  // 1-based line in its file
};

class ClassificationDataset final : public SequenceDataset {
 public:
  // Philox streams: the held-out split, and the shuffle of epoch e (stream + e).
  static constexpr std::uint64_t kValidationSplitStream = 0x434C530000000000ull;
  static constexpr std::uint64_t kShuffleStream = 0x434C530100000000ull;

  // Reads and parses the files. A `vocabulary` or `labels` reloaded from a run
  // directory replace the ones built from the training data (then labels the
  // list lacks are errors in either file). Throws DataError for missing, empty
  // or unreadable files, malformed lines (naming path:line and the expected
  // format), unknown validation labels, or fewer training examples than B;
  // ConfigError for options out of range.
  explicit ClassificationDataset(const ClassificationDatasetOptions& options,
                                 std::optional<CharVocabulary> vocabulary = std::nullopt,
                                 std::optional<ClassLabels> labels = std::nullopt);

  // The training examples of an epoch in the order it serves them.
  std::vector<std::int64_t> epoch_order(std::int64_t epoch) const;
  // A pure function of (seed, position).
  SequenceBatch training_batch(const EpochPosition& position) const;

  SequenceBatch next_training_batch() override;
  nlohmann::json position_json() const override;
  void restore_position_json(const nlohmann::json& position) override;
  std::vector<SequenceBatch> validation_batches(
      std::int64_t max_batches = kAllValidationBatches) const override;

  const EpochPosition& position() const { return position_; }
  const CharVocabulary& vocabulary() const { return vocabulary_; }
  const ClassLabels& labels() const { return labels_; }
  const std::vector<ClassificationExample>& training_examples() const { return training_; }
  const std::vector<ClassificationExample>& validation_examples() const { return validation_; }
  std::int64_t batches_per_epoch() const;
  std::int64_t validation_batch_count() const;
  // Examples whose text was longer than max_length, over both files.
  std::size_t truncated_examples() const { return truncated_examples_; }
  // Symbols encoded as <unk> (validation symbols training never saw).
  std::size_t unknown_symbols() const { return unknown_symbols_; }

 private:
  // Rows = the examples at `indices` of `examples`.
  SequenceBatch make_batch(const std::vector<ClassificationExample>& examples,
                           std::span<const std::int64_t> indices) const;

  ClassificationDatasetOptions options_;
  CharVocabulary vocabulary_;
  ClassLabels labels_;
  std::vector<ClassificationExample> training_;
  std::vector<ClassificationExample> validation_;
  std::size_t truncated_examples_ = 0;
  std::size_t unknown_symbols_ = 0;
  EpochPosition position_;
  // The order of position_.epoch, kept so next_training_batch is O(B * T).
  std::int64_t cached_order_epoch_ = -1;
  std::vector<std::int64_t> cached_order_;
};

}  // namespace seqtrain
