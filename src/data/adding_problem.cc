#include "data/adding_problem.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "seqtrain/error.h"
#include "seqtrain/rng.h"

namespace seqtrain {

AddingProblem::AddingProblem(const AddingProblemOptions& options) : options_(options) {
  if (options_.sequence_length < 2)
    throw ConfigError(fmt::format(
        "adding problem sequence length must be at least 2 (one marker in each half), got {}",
        options_.sequence_length));
  if (options_.batch_size < 1)
    throw ConfigError(
        fmt::format("adding problem batch size must be at least 1, got {}", options_.batch_size));
  if (options_.validation_examples < 0)
    throw ConfigError(fmt::format("adding problem validation examples must be >= 0, got {}",
                                  options_.validation_examples));
}

SequenceBatch AddingProblem::make_batch(std::uint64_t stream, std::int64_t first_example,
                                        std::int64_t rows) const {
  const std::int64_t steps = options_.sequence_length;
  const std::int64_t half = steps / 2;
  const auto draws_per_example = static_cast<std::uint64_t>(steps + 2);
  const Rng rng(options_.seed, stream);
  SequenceBatch batch;
  batch.features = Tensor::zeros({steps, rows, kFeatureCount}, DType::f32);
  batch.lengths = Tensor::empty({rows}, DType::i32);
  batch.targets = Tensor::empty({rows, 1}, DType::f32);
  float* features = batch.features.data<float>();
  for (std::int64_t b = 0; b < rows; ++b) {
    const std::uint64_t first_draw =
        static_cast<std::uint64_t>(first_example + b) * draws_per_example;
    for (std::int64_t t = 0; t < steps; ++t)
      features[(t * rows + b) * kFeatureCount] = rng.uniform_at(first_draw + t);
    // 32 random bits modulo a half length: the bias is below T / 2^32.
    const std::int64_t first_marker = static_cast<std::int64_t>(rng.bits_at(first_draw + steps) %
                                                                static_cast<std::uint64_t>(half));
    const std::int64_t second_marker =
        half + static_cast<std::int64_t>(rng.bits_at(first_draw + steps + 1) %
                                         static_cast<std::uint64_t>(steps - half));
    features[(first_marker * rows + b) * kFeatureCount + 1] = 1.0f;
    features[(second_marker * rows + b) * kFeatureCount + 1] = 1.0f;
    batch.targets.data<float>()[b] = features[(first_marker * rows + b) * kFeatureCount] +
                                     features[(second_marker * rows + b) * kFeatureCount];
    batch.lengths.data<std::int32_t>()[b] = static_cast<std::int32_t>(steps);
  }
  return batch;
}

SequenceBatch AddingProblem::training_batch(std::int64_t index) const {
  SEQTRAIN_CHECK(index >= 0, "negative batch index {}", index);
  return make_batch(kTrainingStream, index * options_.batch_size, options_.batch_size);
}

SequenceBatch AddingProblem::next_training_batch() {
  return training_batch(next_batch_++);
}

nlohmann::json AddingProblem::position_json() const {
  return {{"batch", next_batch_},
          {"batch_size", options_.batch_size},
          {"sequence_length", options_.sequence_length},
          {"seed", options_.seed}};
}

void AddingProblem::restore_position_json(const nlohmann::json& position) {
  auto field = [&](const char* name) -> const nlohmann::json& {
    const bool present = position.is_object() && position.contains(name);
    if (!present ||
        !(position[name].is_number_unsigned() ||
          (position[name].is_number_integer() && position[name].get<std::int64_t>() >= 0)))
      throw CheckpointError(fmt::format(
          "the saved adding problem data position {} needs a non-negative integer \"{}\" (keys "
          "batch, batch_size, sequence_length, seed)",
          position.dump(), name));
    return position[name];
  };
  const auto batch = field("batch").get<std::int64_t>();
  const auto batch_size = field("batch_size").get<std::int64_t>();
  const auto sequence_length = field("sequence_length").get<std::int64_t>();
  const auto seed = field("seed").get<std::uint64_t>();
  if (batch_size != options_.batch_size || sequence_length != options_.sequence_length ||
      seed != options_.seed)
    throw CheckpointError(fmt::format(
        "the saved adding problem data position was taken with batch size {}, sequence length {} "
        "and seed {}, but this run has {}, {} and {}: resume with the same settings",
        batch_size, sequence_length, seed, options_.batch_size, options_.sequence_length,
        options_.seed));
  next_batch_ = batch;
}

std::int64_t AddingProblem::validation_batch_count() const {
  return (options_.validation_examples + options_.batch_size - 1) / options_.batch_size;
}

std::vector<SequenceBatch> AddingProblem::validation_batches(std::int64_t max_batches) const {
  const std::int64_t count =
      std::min(validation_batch_count(), std::max<std::int64_t>(max_batches, 0));
  std::vector<SequenceBatch> batches;
  batches.reserve(static_cast<std::size_t>(count));
  for (std::int64_t index = 0; index < count; ++index) {
    const std::int64_t first = index * options_.batch_size;
    batches.push_back(
        make_batch(kValidationStream, first,
                   std::min(options_.batch_size, options_.validation_examples - first)));
  }
  return batches;
}

}  // namespace seqtrain
