// MlmValidationMetrics: the masked-LM validation record, summed over the
// batches of one validation pass.
//
// Two sets of masked positions are scored. All of them, as BERT reports:
// mlm_loss, mlm_accuracy, perplexity, masked_tokens and
// majority_token_accuracy (always answering the most frequent original token
// of those positions, the floor to beat). That accuracy includes the ~10% of
// positions left unchanged, whose answer is in the input: a model that knows
// only token frequencies and copies its input beats the floor. So the
// positions whose input token is [MASK] (the ~80% with nothing to copy) are
// also scored on their own, over mask_input_tokens of them:
// mlm_accuracy_at_mask against majority_token_accuracy_at_mask (the most
// frequent original token of those positions): only context lifts the
// accuracy above that baseline. mlm_loss_at_mask, their mean cross-entropy
// (nats), is the finer measure; a model that ignores the context can do no
// better there than the cross-entropy of the training text's token
// frequencies on those tokens (7.1 nats for bert_tiny on the fortunes,
// docs/mlm_pretraining.md).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>

#include "data/mlm_batch.h"
#include "tasks/mlm_runner.h"
#include "tasks/task_metrics.h"

namespace seqtrain {

class MlmValidationMetrics {
 public:
  // One evaluated batch: the runner's metrics of it and its slot predictions
  // (MlmRunner::evaluate_batch). Empty slots (a non-finite loss) count as no
  // correct prediction and make mlm_loss_at_mask NaN.
  void add(const MlmBatch& batch, const TaskMetrics& metrics, const MlmSlotPredictions& slots);

  // mlm_loss, mlm_accuracy, perplexity, masked_tokens,
  // majority_token_accuracy, mask_input_tokens, mlm_accuracy_at_mask,
  // majority_token_accuracy_at_mask, mlm_loss_at_mask and sequence_length.
  // Means over no positions are 0.
  nlohmann::json record(std::int64_t sequence_length) const;

 private:
  TaskMetrics all_;                                               // every masked position
  std::int64_t mask_input_tokens_ = 0;                            // those whose input is [MASK]:
  std::int64_t mask_input_correct_ = 0;                           //   predicted right
  double mask_input_loss_sum_ = 0.0;                              //   their cross-entropies
  std::map<std::int32_t, std::int64_t> label_counts_;             // original tokens, all positions
  std::map<std::int32_t, std::int64_t> mask_input_label_counts_;  // and [MASK] inputs
};

}  // namespace seqtrain
