#include "data/classification_dataset.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>
#include <string_view>

#include "data/utf8.h"
#include "io/read_text_file.h"
#include "seqtrain/error.h"
#include "seqtrain/rng.h"

namespace seqtrain {
namespace {

constexpr std::string_view kExpectedFormat =
    "expected one example per line as 'label<TAB>text' (a non-empty label, a tab character, then "
    "non-empty text)";

// One line of a classification file, split but not yet encoded.
struct ParsedLine {
  std::string label;
  std::vector<char32_t> symbols;
  std::int64_t line = 0;
};

std::vector<ParsedLine> parse_classification_file(const std::filesystem::path& path,
                                                  std::string_view what, VocabularyKind kind) {
  const std::string contents = read_text_file(path, what);
  const std::string path_name = path.string();
  std::vector<ParsedLine> lines;
  std::size_t line_start = 0;
  for (std::int64_t line_number = 1; line_start < contents.size(); ++line_number) {
    std::size_t line_end = contents.find('\n', line_start);
    if (line_end == std::string::npos) line_end = contents.size();
    std::string_view line(contents.data() + line_start, line_end - line_start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const std::string location = fmt::format("{}:{}", path_name, line_number);
    if (!line.empty()) {
      const std::size_t tab = line.find('\t');
      if (tab == std::string_view::npos)
        throw DataError(fmt::format("{}: the line has no tab: {}", location, kExpectedFormat));
      if (tab == 0)
        throw DataError(
            fmt::format("{}: the label before the tab is empty: {}", location, kExpectedFormat));
      if (tab + 1 == line.size())
        throw DataError(
            fmt::format("{}: the text after the tab is empty: {}", location, kExpectedFormat));
      std::string_view label = line.substr(0, tab);
      // Labels are saved as JSON strings, which must be UTF-8 whatever the vocabulary.
      decode_utf8(label, location, line_start);
      lines.push_back({std::string(label),
                       CharVocabulary::split_symbols(kind, line.substr(tab + 1), location,
                                                     line_start + tab + 1),
                       line_number});
    }
    line_start = line_end + 1;
  }
  if (lines.empty())
    throw DataError(
        fmt::format("{} '{}' holds only empty lines: {}", what, path_name, kExpectedFormat));
  return lines;
}

// The first `count` entries of a seeded Fisher-Yates permutation of [0, n).
std::vector<std::int64_t> seeded_permutation(std::int64_t n, std::uint64_t seed,
                                             std::uint64_t stream) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  Rng rng(seed, stream);
  for (std::int64_t i = n - 1; i > 0; --i)
    std::swap(order[i], order[rng.next_below(static_cast<std::uint64_t>(i + 1))]);
  return order;
}

}  // namespace

ClassificationDataset::ClassificationDataset(const ClassificationDatasetOptions& options,
                                             std::optional<CharVocabulary> vocabulary,
                                             std::optional<ClassLabels> labels)
    : options_(options), vocabulary_(CharVocabulary::byte_level()) {
  if (options_.batch_size < 1)
    throw ConfigError(
        fmt::format("classification batch size must be at least 1, got {}", options_.batch_size));
  if (options_.max_length < 1)
    throw ConfigError(
        fmt::format("classification maximum sequence length must be at least 1, "
                    "got {}",
                    options_.max_length));
  if (!(options_.validation_fraction >= 0.0 && options_.validation_fraction < 1.0))
    throw ConfigError(fmt::format("classification validation fraction must be in [0, 1), got {}",
                                  options_.validation_fraction));

  const VocabularyKind kind = vocabulary ? vocabulary->kind() : options_.vocabulary_kind;
  std::vector<ParsedLine> training_lines =
      parse_classification_file(options_.train_path, "classification training file", kind);
  std::vector<ParsedLine> validation_lines;
  std::filesystem::path validation_source = options_.train_path;
  if (options_.validation_path) {
    validation_source = *options_.validation_path;
    validation_lines = parse_classification_file(*options_.validation_path,
                                                 "classification validation file", kind);
  }

  if (labels) {
    labels_ = std::move(*labels);
  } else {
    // With one file the held-out examples' labels are classes of the task too.
    std::vector<std::string> names;
    for (const ParsedLine& line : training_lines) names.push_back(line.label);
    labels_ = ClassLabels::from_names(std::move(names));
  }

  if (!options_.validation_path && options_.validation_fraction > 0.0) {
    const auto total = static_cast<std::int64_t>(training_lines.size());
    const auto held_out = static_cast<std::int64_t>(
        std::floor(static_cast<double>(total) * options_.validation_fraction));
    if (held_out < 1)
      throw DataError(fmt::format(
          "'{}' has {} examples, too few to hold out a validation fraction of {}: add examples, "
          "raise the fraction or give a separate validation file",
          options_.train_path.string(), total, options_.validation_fraction));
    std::vector<std::int64_t> order =
        seeded_permutation(total, options_.seed, kValidationSplitStream);
    std::vector<bool> is_validation(static_cast<std::size_t>(total), false);
    for (std::int64_t i = 0; i < held_out; ++i) is_validation[order[i]] = true;
    std::vector<ParsedLine> kept;
    for (std::int64_t i = 0; i < total; ++i)
      (is_validation[i] ? validation_lines : kept).push_back(std::move(training_lines[i]));
    training_lines = std::move(kept);
  }

  if (vocabulary) {
    vocabulary_ = std::move(*vocabulary);
  } else if (kind == VocabularyKind::character) {
    std::vector<char32_t> symbols;
    for (const ParsedLine& line : training_lines)
      symbols.insert(symbols.end(), line.symbols.begin(), line.symbols.end());
    vocabulary_ = CharVocabulary::character_level(symbols);
  }

  auto known_labels = [&] {
    constexpr std::size_t kShown = 20;
    const std::vector<std::string>& names = labels_.names();
    std::vector<std::string> shown(names.begin(), names.begin() + std::min(kShown, names.size()));
    return fmt::format(
        "{}{}", fmt::join(shown, ", "),
        names.size() > kShown ? fmt::format(" and {} more", names.size() - kShown) : std::string());
  };
  auto encode = [&](std::vector<ParsedLine>& lines, const std::filesystem::path& source) {
    std::vector<ClassificationExample> examples;
    examples.reserve(lines.size());
    for (ParsedLine& line : lines) {
      std::optional<std::int32_t> label = labels_.id_of(line.label);
      if (!label)
        throw DataError(fmt::format(
            "{}:{}: label '{}' is not one of the training labels ({}): a model cannot predict a "
            "class it was not trained on; fix the label or add training examples with it",
            source.string(), line.line, line.label, known_labels()));
      if (static_cast<std::int64_t>(line.symbols.size()) > options_.max_length) {
        line.symbols.resize(static_cast<std::size_t>(options_.max_length));
        ++truncated_examples_;
      }
      examples.push_back(
          {vocabulary_.encode_symbols(line.symbols, &unknown_symbols_), *label, line.line});
    }
    return examples;
  };
  training_ = encode(training_lines, options_.train_path);
  validation_ = encode(validation_lines, validation_source);

  if (static_cast<std::int64_t>(training_.size()) < options_.batch_size)
    throw DataError(fmt::format(
        "'{}' leaves {} training examples, fewer than one batch of {}: add examples or lower the "
        "batch size",
        options_.train_path.string(), training_.size(), options_.batch_size));
  position_.batches_per_epoch = batches_per_epoch();
}

std::int64_t ClassificationDataset::batches_per_epoch() const {
  return static_cast<std::int64_t>(training_.size()) / options_.batch_size;
}

std::int64_t ClassificationDataset::validation_batch_count() const {
  return (static_cast<std::int64_t>(validation_.size()) + options_.batch_size - 1) /
         options_.batch_size;
}

std::vector<std::int64_t> ClassificationDataset::epoch_order(std::int64_t epoch) const {
  SEQTRAIN_CHECK(epoch >= 0 && epoch < (std::int64_t{1} << 32), "epoch {}", epoch);
  return seeded_permutation(static_cast<std::int64_t>(training_.size()), options_.seed,
                            kShuffleStream + static_cast<std::uint64_t>(epoch));
}

SequenceBatch ClassificationDataset::make_batch(const std::vector<ClassificationExample>& examples,
                                                std::span<const std::int64_t> indices) const {
  const std::int64_t steps = options_.max_length;
  const auto rows = static_cast<std::int64_t>(indices.size());
  SequenceBatch batch;
  batch.tokens = Tensor::empty({steps, rows}, DType::i32);
  batch.lengths = Tensor::empty({rows}, DType::i32);
  batch.targets = Tensor::empty({rows}, DType::i32);
  std::int32_t* tokens = batch.tokens.data<std::int32_t>();
  for (std::int64_t b = 0; b < rows; ++b) {
    const ClassificationExample& example = examples[static_cast<std::size_t>(indices[b])];
    const auto length = static_cast<std::int64_t>(example.ids.size());
    for (std::int64_t t = 0; t < steps; ++t)
      tokens[t * rows + b] = t < length ? example.ids[t] : kPaddingToken;
    batch.lengths.data<std::int32_t>()[b] = static_cast<std::int32_t>(length);
    batch.targets.data<std::int32_t>()[b] = example.label;
  }
  return batch;
}

SequenceBatch ClassificationDataset::training_batch(const EpochPosition& position) const {
  SEQTRAIN_CHECK(position.batches_per_epoch == batches_per_epoch() &&
                     position.batch < position.batches_per_epoch,
                 "position batch {} of {} in a dataset of {} batches per epoch", position.batch,
                 position.batches_per_epoch, batches_per_epoch());
  const std::vector<std::int64_t> order =
      position.epoch == cached_order_epoch_ ? cached_order_ : epoch_order(position.epoch);
  return make_batch(training_, std::span(order).subspan(
                                   static_cast<std::size_t>(position.batch * options_.batch_size),
                                   static_cast<std::size_t>(options_.batch_size)));
}

SequenceBatch ClassificationDataset::next_training_batch() {
  if (cached_order_epoch_ != position_.epoch) {
    cached_order_ = epoch_order(position_.epoch);
    cached_order_epoch_ = position_.epoch;
  }
  SequenceBatch batch = make_batch(
      training_, std::span(cached_order_)
                     .subspan(static_cast<std::size_t>(position_.batch * options_.batch_size),
                              static_cast<std::size_t>(options_.batch_size)));
  position_ = position_.advanced();
  return batch;
}

nlohmann::json ClassificationDataset::position_json() const {
  nlohmann::json json = position_.to_json();
  json["seed"] = options_.seed;
  return json;
}

void ClassificationDataset::restore_position_json(const nlohmann::json& position) {
  EpochPosition restored =
      EpochPosition::from_json(position, batches_per_epoch(), "classification");
  if (!position.contains("seed") || !position["seed"].is_number_unsigned() ||
      position["seed"].get<std::uint64_t>() != options_.seed)
    throw CheckpointError(fmt::format(
        "the saved classification data position {} was taken with another shuffle seed than this "
        "run's {}: resume with the same seed",
        position.dump(), options_.seed));
  position_ = restored;
}

std::vector<SequenceBatch> ClassificationDataset::validation_batches(
    std::int64_t max_batches) const {
  const std::int64_t count =
      std::min(validation_batch_count(), std::max<std::int64_t>(max_batches, 0));
  std::vector<SequenceBatch> batches;
  batches.reserve(static_cast<std::size_t>(count));
  const auto total = static_cast<std::int64_t>(validation_.size());
  for (std::int64_t index = 0; index < count; ++index) {
    const std::int64_t first = index * options_.batch_size;
    std::vector<std::int64_t> rows(
        static_cast<std::size_t>(std::min(options_.batch_size, total - first)));
    std::iota(rows.begin(), rows.end(), first);
    batches.push_back(make_batch(validation_, rows));
  }
  return batches;
}

}  // namespace seqtrain
