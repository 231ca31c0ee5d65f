#include "tasks/mlm_validation_metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>

#include "data/sentencepiece_tokenizer.h"
#include "data/sequence_batch.h"
#include "seqtrain/error.h"

namespace seqtrain {
namespace {

double share(double part, std::int64_t whole) {
  return whole == 0 ? 0.0 : part / static_cast<double>(whole);
}

std::int64_t largest_count(const std::map<std::int32_t, std::int64_t>& counts) {
  std::int64_t largest = 0;
  for (const auto& [token, count] : counts) largest = std::max(largest, count);
  return largest;
}

}  // namespace

void MlmValidationMetrics::add(const MlmBatch& batch, const TaskMetrics& metrics,
                               const MlmSlotPredictions& slots) {
  const std::span<const std::int32_t> labels = batch.masked_labels.span<std::int32_t>();
  const std::span<const std::int32_t> positions = batch.masked_positions.span<std::int32_t>();
  const std::span<const std::int32_t> inputs = batch.input_ids.span<std::int32_t>();
  SEQTRAIN_CHECK(positions.size() == labels.size(),
                 "masked positions ({}) and labels ({}) differ in count", positions.size(),
                 labels.size());
  SEQTRAIN_CHECK(slots.empty() ||
                     (slots.tokens.size() == labels.size() && slots.losses.size() == labels.size()),
                 "{} slot predictions for {} masked slots", slots.tokens.size(), labels.size());
  all_.add(metrics);
  for (std::size_t slot = 0; slot < labels.size(); ++slot) {
    const std::int32_t label = labels[slot];
    if (label == kIgnoreTarget) continue;
    ++label_counts_[label];
    const std::int32_t position = positions[slot];
    SEQTRAIN_CHECK(position >= 0 && static_cast<std::size_t>(position) < inputs.size(),
                   "masked position {} outside the batch's {} tokens", position, inputs.size());
    if (inputs[static_cast<std::size_t>(position)] != kMaskTokenId) continue;
    ++mask_input_tokens_;
    ++mask_input_label_counts_[label];
    if (slots.empty()) {
      mask_input_loss_sum_ = std::numeric_limits<double>::quiet_NaN();
      continue;
    }
    mask_input_correct_ += slots.tokens[slot] == label;
    mask_input_loss_sum_ += slots.losses[slot];
  }
}

nlohmann::json MlmValidationMetrics::record(std::int64_t sequence_length) const {
  const double loss = all_.mean_loss();
  return {
      {"mlm_loss", loss},
      {"mlm_accuracy", all_.accuracy()},
      {"perplexity", std::exp(loss)},
      {"masked_tokens", all_.rows},
      {"majority_token_accuracy",
       share(static_cast<double>(largest_count(label_counts_)), all_.rows)},
      {"mask_input_tokens", mask_input_tokens_},
      {"mlm_accuracy_at_mask", share(static_cast<double>(mask_input_correct_), mask_input_tokens_)},
      {"majority_token_accuracy_at_mask",
       share(static_cast<double>(largest_count(mask_input_label_counts_)), mask_input_tokens_)},
      {"mlm_loss_at_mask", share(mask_input_loss_sum_, mask_input_tokens_)},
      {"sequence_length", sequence_length}};
}

}  // namespace seqtrain
