#include "data/mlm_dataset.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "data/sequence_batch.h"
#include "seqtrain/error.h"

namespace seqtrain {
namespace {

constexpr std::int64_t kMaxSequenceLength = std::int64_t{1} << 20;

MlmDatasetOptions checked_options(const MlmDatasetOptions& options, const TokenShards* shards) {
  SEQTRAIN_CHECK(shards != nullptr, "masked-LM dataset without token shards");
  if (options.batch_size < 1)
    throw ConfigError(
        fmt::format("masked-LM batch size must be at least 1, got {}", options.batch_size));
  if (options.sequence_length < 3 || options.sequence_length > kMaxSequenceLength)
    throw ConfigError(fmt::format(
        "masked-LM sequence length must be in [3, {}] ([CLS], at least one token, [SEP]), got {}",
        kMaxSequenceLength, options.sequence_length));
  if (options.validation_batch_size < 0)
    throw ConfigError(fmt::format("masked-LM validation batch size must be >= 0, got {}",
                                  options.validation_batch_size));
  validate_mlm_masking_options(options.masking);
  MlmDatasetOptions checked = options;
  if (checked.validation_batch_size == 0) checked.validation_batch_size = checked.batch_size;
  return checked;
}

}  // namespace

MlmDataset::MlmDataset(std::shared_ptr<const TokenShards> shards, const MlmDatasetOptions& options)
    : shards_(std::move(shards)),
      options_(checked_options(options, shards_.get())),
      training_packing_(shards_->training(), options_.sequence_length),
      validation_packing_(shards_->validation(), options_.sequence_length) {
  if (training_packing_.sequence_count() < options_.batch_size)
    throw DataError(fmt::format(
        "the training split of '{}' ({} tokens) packs into {} sequences of length {}, fewer than "
        "one batch of {}: use more text, a shorter sequence length or a smaller batch size",
        shards_->directory().string(), shards_->training().token_count(),
        training_packing_.sequence_count(), options_.sequence_length, options_.batch_size));
  position_.batches_per_epoch = batches_per_epoch();
}

std::int64_t MlmDataset::batches_per_epoch() const {
  return training_packing_.sequence_count() / options_.batch_size;
}

std::int64_t MlmDataset::validation_batch_count() const {
  return (validation_packing_.sequence_count() + options_.validation_batch_size - 1) /
         options_.validation_batch_size;
}

std::int64_t MlmDataset::masked_per_sequence() const {
  return mlm_masked_per_sequence(options_.sequence_length, options_.masking.mask_rate);
}

std::vector<std::int64_t> MlmDataset::epoch_order(std::int64_t epoch) const {
  const std::int64_t count = training_packing_.sequence_count();
  std::vector<std::int64_t> order(static_cast<std::size_t>(count));
  for (std::int64_t i = 0; i < count; ++i) order[static_cast<std::size_t>(i)] = i;
  Rng rng(options_.seed, kShuffleStream + static_cast<std::uint64_t>(epoch));
  for (std::int64_t i = count - 1; i > 0; --i)
    std::swap(order[static_cast<std::size_t>(i)],
              order[rng.next_below(static_cast<std::uint64_t>(i + 1))]);
  return order;
}

MlmBatch MlmDataset::make_batch(const MlmSequencePacking& packing,
                                std::span<const std::int64_t> sequences,
                                std::uint64_t mask_stream) const {
  const auto rows = static_cast<std::int64_t>(sequences.size());
  const std::int64_t steps = options_.sequence_length;
  const std::int64_t capacity = masked_per_sequence();
  MlmBatch batch;
  batch.input_ids = Tensor::empty({rows, steps}, DType::i32);
  batch.token_type_ids = Tensor::zeros({rows, steps}, DType::i32);
  batch.lengths = Tensor::empty({rows}, DType::i32);
  batch.masked_positions = Tensor::empty({rows * capacity}, DType::i32);
  batch.masked_labels = Tensor::empty({rows * capacity}, DType::i32);
  std::int32_t* ids = batch.input_ids.data<std::int32_t>();
  std::int32_t* positions = batch.masked_positions.data<std::int32_t>();
  std::int32_t* labels = batch.masked_labels.data<std::int32_t>();
  for (std::int64_t b = 0; b < rows; ++b) {
    const std::int64_t sequence = sequences[static_cast<std::size_t>(b)];
    const std::span<std::int32_t> row(ids + b * steps, static_cast<std::size_t>(steps));
    const std::int64_t length = packing.fill(sequence, row);
    batch.lengths.data<std::int32_t>()[b] = static_cast<std::int32_t>(length);
    Rng rng(options_.seed, mask_stream);
    rng.set_position(static_cast<std::uint64_t>(sequence) * kDrawsPerSequence);
    const MlmMaskedTokens masked =
        mlm_mask_tokens(row.first(static_cast<std::size_t>(length)), shards_->vocab_size(),
                        capacity, options_.masking, rng);
    const auto used = static_cast<std::int64_t>(masked.positions.size());
    for (std::int64_t slot = 0; slot < capacity; ++slot) {
      const bool in_use = slot < used;
      positions[b * capacity + slot] = static_cast<std::int32_t>(
          b * steps + (in_use ? masked.positions[static_cast<std::size_t>(slot)] : 0));
      labels[b * capacity + slot] =
          in_use ? masked.labels[static_cast<std::size_t>(slot)] : kIgnoreTarget;
    }
    batch.masked_count += used;
  }
  return batch;
}

MlmBatch MlmDataset::training_batch(const EpochPosition& position) const {
  SEQTRAIN_CHECK(position.batches_per_epoch == batches_per_epoch() &&
                     position.batch < position.batches_per_epoch,
                 "position batch {} of {} in a dataset of {} batches per epoch", position.batch,
                 position.batches_per_epoch, batches_per_epoch());
  if (!cached_order_ || cached_order_->first != position.epoch)
    cached_order_.emplace(position.epoch, epoch_order(position.epoch));
  const std::span<const std::int64_t> rows =
      std::span<const std::int64_t>(cached_order_->second)
          .subspan(static_cast<std::size_t>(position.batch * options_.batch_size),
                   static_cast<std::size_t>(options_.batch_size));
  return make_batch(training_packing_, rows,
                    kTrainingMaskStream + static_cast<std::uint64_t>(position.epoch));
}

MlmBatch MlmDataset::next_training_batch() {
  MlmBatch batch = training_batch(position_);
  position_ = position_.advanced();
  return batch;
}

nlohmann::json MlmDataset::position_json() const {
  nlohmann::json json = position_.to_json();
  json["seed"] = options_.seed;
  json["batch_size"] = options_.batch_size;
  json["sequence_length"] = options_.sequence_length;
  return json;
}

void MlmDataset::restore_position_json(const nlohmann::json& position) {
  EpochPosition restored = EpochPosition::from_json(position, batches_per_epoch(), "masked-LM");
  auto require = [&](const char* key, std::uint64_t expected, const char* what) {
    if (!position.contains(key) || !position[key].is_number_unsigned() ||
        position[key].get<std::uint64_t>() != expected)
      throw CheckpointError(fmt::format(
          "the saved masked-LM data position {} was taken with another {} than this run's {}: "
          "resume with the same {}",
          position.dump(), what, expected, what));
  };
  require("seed", options_.seed, "seed");
  require("batch_size", static_cast<std::uint64_t>(options_.batch_size), "batch size");
  require("sequence_length", static_cast<std::uint64_t>(options_.sequence_length),
          "sequence length");
  position_ = restored;
}

void MlmDataset::restore_position(const EpochPosition& position) {
  position_ = EpochPosition::from_json(position.to_json(), batches_per_epoch(), "masked-LM");
}

std::vector<MlmBatch> MlmDataset::validation_batches(std::int64_t max_batches) const {
  const std::int64_t count =
      std::min(validation_batch_count(), std::max<std::int64_t>(max_batches, 0));
  const std::int64_t total = validation_packing_.sequence_count();
  std::vector<MlmBatch> batches;
  batches.reserve(static_cast<std::size_t>(count));
  for (std::int64_t index = 0; index < count; ++index) {
    const std::int64_t first = index * options_.validation_batch_size;
    std::vector<std::int64_t> rows(
        static_cast<std::size_t>(std::min(options_.validation_batch_size, total - first)));
    for (std::size_t r = 0; r < rows.size(); ++r) rows[r] = first + static_cast<std::int64_t>(r);
    batches.push_back(make_batch(validation_packing_, rows, kValidationMaskStream));
  }
  return batches;
}

}  // namespace seqtrain
