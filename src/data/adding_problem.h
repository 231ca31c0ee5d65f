// The adding problem (Hochreiter & Schmidhuber 1997, in the form of Le, Jaitly
// & Hinton 2015): a synthetic long-range memory task.
//
// Each example has T steps with F = 2 features: features[t, b, 0] is a value
// drawn uniformly from [0, 1) and features[t, b, 1] a marker that is 1 at exactly
// two steps, one in the first half [0, T/2) and one in the second half
// [T/2, T), and 0 elsewhere. The target is the sum of the two marked values, so
// its mean is 1 and predicting that mean scores a mean squared error of
// Var(U1 + U2) = 2/12 = 1/6. Every row has length T; tokens are undefined.
//
// Examples are drawn on the fly from the counter-based Philox generator:
// training example e = k*B + b of batch k uses draws e*(T+2) .. e*(T+2)+T+1 of
// stream kTrainingStream under the seed (T values, then the two marker steps),
// so batch k is a pure function of (seed, B, T, k) and the position is k alone.
// The validation set is the first validation_examples examples of
// kValidationStream, in batches of B (the last one may hold fewer rows).
#pragma once

#include <cstdint>

#include "data/sequence_dataset.h"

namespace seqtrain {

struct AddingProblemOptions {
  std::int64_t sequence_length = 100;  // T, at least 2
  std::int64_t batch_size = 32;        // B
  std::uint64_t seed = 0;
  std::int64_t validation_examples = 1000;  // 0 means no validation set
};

class AddingProblem final : public SequenceDataset {
 public:
  // Philox streams of the two example sets ("ADD" and a set number), apart from
  // the streams dropout and initialisation draw from.
  static constexpr std::uint64_t kTrainingStream = 0x4144440000000001ull;
  static constexpr std::uint64_t kValidationStream = 0x4144440000000002ull;
  static constexpr std::int64_t kFeatureCount = 2;

  // ConfigError when T < 2, B < 1 or validation_examples < 0.
  explicit AddingProblem(const AddingProblemOptions& options);

  // Training batch `index`: a pure function of (seed, B, T, index).
  SequenceBatch training_batch(std::int64_t index) const;

  SequenceBatch next_training_batch() override;
  nlohmann::json position_json() const override;
  void restore_position_json(const nlohmann::json& position) override;
  std::vector<SequenceBatch> validation_batches(
      std::int64_t max_batches = kAllValidationBatches) const override;

  std::int64_t next_batch_index() const { return next_batch_; }
  std::int64_t validation_batch_count() const;

 private:
  // Rows [0, rows) of a batch holding examples first_example.. of `stream`.
  SequenceBatch make_batch(std::uint64_t stream, std::int64_t first_example,
                           std::int64_t rows) const;

  AddingProblemOptions options_;
  std::int64_t next_batch_ = 0;
};

}  // namespace seqtrain
