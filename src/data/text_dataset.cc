#include "data/text_dataset.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <span>

#include "io/read_text_file.h"
#include "seqtrain/error.h"

namespace seqtrain {
namespace {

// B contiguous streams over `ids`, each with `stream_length` inputs, read in
// windows of `window` steps.
struct TbpttStreams {
  std::span<const std::int32_t> ids;
  std::int64_t stream_count;
  std::int64_t window;

  std::int64_t stream_length() const {
    return (static_cast<std::int64_t>(ids.size()) - 1) / stream_count;
  }
  std::int64_t batch_count() const { return (stream_length() + window - 1) / window; }

  SequenceBatch batch(std::int64_t index) const {
    const std::int64_t length = stream_length();
    const std::int64_t first = index * window;
    SEQTRAIN_CHECK(first < length, "window {} of streams {} long", index, length);
    const std::int64_t steps = std::min(window, length - first);
    SequenceBatch batch;
    batch.tokens = Tensor::empty({window, stream_count}, DType::i32);
    batch.targets = Tensor::empty({window, stream_count}, DType::i32);
    batch.lengths = Tensor::empty({stream_count}, DType::i32);
    std::int32_t* tokens = batch.tokens.data<std::int32_t>();
    std::int32_t* targets = batch.targets.data<std::int32_t>();
    for (std::int64_t b = 0; b < stream_count; ++b) {
      batch.lengths.data<std::int32_t>()[b] = static_cast<std::int32_t>(steps);
      const std::int64_t start = b * length + first;
      for (std::int64_t t = 0; t < window; ++t) {
        const bool inside = t < steps;
        tokens[t * stream_count + b] = inside ? ids[start + t] : kPaddingToken;
        targets[t * stream_count + b] = inside ? ids[start + t + 1] : kIgnoreTarget;
      }
    }
    batch.continues_previous = index > 0;
    return batch;
  }
};

}  // namespace

TextDataset::TextDataset(const TextDatasetOptions& options,
                         std::optional<CharVocabulary> vocabulary)
    : options_(options), vocabulary_(CharVocabulary::byte_level()) {
  if (options_.batch_size < 1)
    throw ConfigError(
        fmt::format("text dataset batch size must be at least 1, got {}", options_.batch_size));
  if (options_.sequence_length < 1)
    throw ConfigError(fmt::format("text dataset sequence length must be at least 1, got {}",
                                  options_.sequence_length));
  if (!(options_.validation_fraction >= 0.0 && options_.validation_fraction < 1.0))
    throw ConfigError(fmt::format("text dataset validation fraction must be in [0, 1), got {}",
                                  options_.validation_fraction));
  if (options_.validation_batch_size < 0)
    throw ConfigError(fmt::format("text dataset validation batch size must be >= 0, got {}",
                                  options_.validation_batch_size));
  if (options_.validation_batch_size == 0) options_.validation_batch_size = options_.batch_size;

  const std::string path_name = options_.path.string();
  const std::string text = read_text_file(options_.path, "text file");
  const VocabularyKind kind = vocabulary ? vocabulary->kind() : options_.vocabulary_kind;
  const std::vector<char32_t> symbols = CharVocabulary::split_symbols(kind, text, path_name);

  const auto symbol_count = static_cast<std::int64_t>(symbols.size());
  const auto validation_count = static_cast<std::int64_t>(
      std::floor(static_cast<double>(symbol_count) * options_.validation_fraction));
  const std::span<const char32_t> training_symbols(symbols.data(), symbol_count - validation_count);
  const std::span<const char32_t> validation_symbols(symbols.data() + training_symbols.size(),
                                                     validation_count);
  vocabulary_ = vocabulary ? std::move(*vocabulary)
                           : (kind == VocabularyKind::byte
                                  ? CharVocabulary::byte_level()
                                  : CharVocabulary::character_level(training_symbols));
  training_ids_ = vocabulary_.encode_symbols(training_symbols, &unknown_training_symbols_);
  validation_ids_ = vocabulary_.encode_symbols(validation_symbols, &unknown_validation_symbols_);

  if (training_symbol_count() < options_.batch_size + 1)
    throw DataError(fmt::format(
        "'{}': the training part holds {} {} symbols, but {} parallel streams need at least {}: "
        "use a longer text, a smaller batch size or a smaller validation fraction",
        path_name, training_symbol_count(), vocabulary_kind_name(kind), options_.batch_size,
        options_.batch_size + 1));
  if (options_.validation_fraction > 0.0 &&
      validation_symbol_count() < options_.validation_batch_size + 1)
    throw DataError(fmt::format(
        "'{}': the validation part (last {} of the text) holds {} {} symbols, but {} validation "
        "streams need at least {}: raise the validation fraction or lower the validation batch "
        "size",
        path_name, options_.validation_fraction, validation_symbol_count(),
        vocabulary_kind_name(kind), options_.validation_batch_size,
        options_.validation_batch_size + 1));
  position_.batches_per_epoch = batches_per_epoch();
}

std::int64_t TextDataset::training_stream_length() const {
  return TbpttStreams{training_ids_, options_.batch_size, options_.sequence_length}.stream_length();
}

std::int64_t TextDataset::batches_per_epoch() const {
  return TbpttStreams{training_ids_, options_.batch_size, options_.sequence_length}.batch_count();
}

std::int64_t TextDataset::validation_batch_count() const {
  if (validation_ids_.empty()) return 0;
  return TbpttStreams{validation_ids_, options_.validation_batch_size, options_.sequence_length}
      .batch_count();
}

SequenceBatch TextDataset::training_batch(const EpochPosition& position) const {
  SEQTRAIN_CHECK(position.batches_per_epoch == batches_per_epoch() &&
                     position.batch < position.batches_per_epoch,
                 "position batch {} of {} in a dataset of {} batches per epoch", position.batch,
                 position.batches_per_epoch, batches_per_epoch());
  return TbpttStreams{training_ids_, options_.batch_size, options_.sequence_length}.batch(
      position.batch);
}

SequenceBatch TextDataset::next_training_batch() {
  SequenceBatch batch = training_batch(position_);
  position_ = position_.advanced();
  return batch;
}

nlohmann::json TextDataset::position_json() const {
  return position_.to_json();
}

void TextDataset::restore_position_json(const nlohmann::json& position) {
  position_ = EpochPosition::from_json(position, batches_per_epoch(), "text dataset");
}

void TextDataset::restore_position(const EpochPosition& position) {
  restore_position_json(position.to_json());
}

std::vector<SequenceBatch> TextDataset::validation_batches(std::int64_t max_batches) const {
  std::vector<SequenceBatch> batches;
  const std::int64_t count =
      std::min(validation_batch_count(), std::max<std::int64_t>(max_batches, 0));
  const TbpttStreams streams{validation_ids_, options_.validation_batch_size,
                             options_.sequence_length};
  batches.reserve(static_cast<std::size_t>(count));
  for (std::int64_t index = 0; index < count; ++index) batches.push_back(streams.batch(index));
  return batches;
}

}  // namespace seqtrain
