// TextDataset: character language modelling on one UTF-8 text file, served as
// truncated-backpropagation-through-time (TBPTT) batches.
//
// The file is read and encoded once. Its last validation_fraction of symbols
// is the validation text, the rest the training text; a character vocabulary
// is built from the training text only, so validation symbols training never
// saw become <unk> (counted in unknown_validation_symbols()).
//
// Training text of N symbols is cut into B contiguous streams of
// L = (N - 1) / B inputs each: stream b reads symbols [b*L, b*L + L) and
// predicts symbols [b*L + 1, b*L + L + 1). Batch k of an epoch holds, for every
// stream, window [k*T, (k+1)*T): tokens[t, b] = text[b*L + k*T + t] and
// targets[t, b] = text[b*L + k*T + t + 1]. An epoch has ceil(L / T) batches; the
// last one is cut short when T does not divide L (lengths < T, targets
// kIgnoreTarget and tokens kPaddingToken past the end). continues_previous is
// true except for batch 0 of each epoch, where the model starts from zero state.
// Every epoch serves the same batches; position = (epoch, batch).
//
// Validation text is laid out the same way with its own streams and is read
// from its start on every validation_batches() call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <vector>

#include "data/char_vocabulary.h"
#include "data/epoch_position.h"
#include "data/sequence_dataset.h"

namespace seqtrain {

struct TextDatasetOptions {
  std::filesystem::path path;
  VocabularyKind vocabulary_kind = VocabularyKind::byte;
  double validation_fraction = 0.05;       // in [0, 1); 0 means no validation
  std::int64_t batch_size = 32;            // B: parallel training streams
  std::int64_t sequence_length = 128;      // T: steps per TBPTT window
  std::int64_t validation_batch_size = 0;  // validation streams; 0 means batch_size
};

class TextDataset final : public SequenceDataset {
 public:
  // Reads and encodes options.path. With `vocabulary` (reloaded from a run
  // directory) its ids are used and options.vocabulary_kind is ignored; without
  // it a vocabulary of options.vocabulary_kind is built from the training text.
  // Throws DataError for a missing, unreadable or empty file, invalid UTF-8 at
  // character level, or text too short for the streams asked for; ConfigError
  // for options out of range.
  explicit TextDataset(const TextDatasetOptions& options,
                       std::optional<CharVocabulary> vocabulary = std::nullopt);

  // A pure function of the position (every epoch is the same).
  SequenceBatch training_batch(const EpochPosition& position) const;

  SequenceBatch next_training_batch() override;
  nlohmann::json position_json() const override;
  void restore_position_json(const nlohmann::json& position) override;
  std::vector<SequenceBatch> validation_batches(
      std::int64_t max_batches = kAllValidationBatches) const override;

  const EpochPosition& position() const { return position_; }
  void restore_position(const EpochPosition& position);

  const CharVocabulary& vocabulary() const { return vocabulary_; }
  std::int64_t batches_per_epoch() const;
  std::int64_t validation_batch_count() const;
  std::int64_t training_symbol_count() const {
    return static_cast<std::int64_t>(training_ids_.size());
  }
  std::int64_t validation_symbol_count() const {
    return static_cast<std::int64_t>(validation_ids_.size());
  }
  // Training symbols never reach the vocabulary's <unk> unless a reloaded
  // vocabulary lacks them; both counts say how many did.
  std::size_t unknown_training_symbols() const { return unknown_training_symbols_; }
  std::size_t unknown_validation_symbols() const { return unknown_validation_symbols_; }
  // L: inputs per training stream.
  std::int64_t training_stream_length() const;

 private:
  TextDatasetOptions options_;
  CharVocabulary vocabulary_;
  std::vector<std::int32_t> training_ids_;
  std::vector<std::int32_t> validation_ids_;
  std::size_t unknown_training_symbols_ = 0;
  std::size_t unknown_validation_symbols_ = 0;
  EpochPosition position_;
};

}  // namespace seqtrain
