#include "tasks/evaluation.h"

#include <cmath>

#include "seqtrain/error.h"
#include "tasks/confusion_matrix.h"

namespace seqtrain {

nlohmann::json evaluate_sequence_task(SequenceRunner& runner, const SequenceDataset& dataset,
                                      const RunConfig& config,
                                      const std::vector<std::string>* class_names) {
  runner.reset_evaluation_state();
  TaskMetrics total;
  const bool confusion_wanted = class_names != nullptr && config.task == Task::classification;
  ConfusionMatrix confusion(confusion_wanted ? *class_names : std::vector<std::string>{});
  for (const SequenceBatch& batch : dataset.validation_batches(config.training.eval_batches)) {
    Tensor logits;
    total.add(runner.evaluate_batch(batch, confusion_wanted ? &logits : nullptr));
    if (!confusion_wanted || !logits.defined()) continue;
    const std::int64_t classes = logits.dim(1);
    const std::int32_t* targets = batch.targets.data<std::int32_t>();
    for (std::int64_t row = 0; row < logits.dim(0); ++row) {
      if (targets[row] == kIgnoreTarget) continue;
      const float* scores = logits.data<float>() + row * classes;
      std::int64_t best = 0;
      for (std::int64_t c = 1; c < classes; ++c)
        if (scores[c] > scores[best]) best = c;
      confusion.add(targets[row], best);
    }
  }
  nlohmann::json result;
  const double loss = total.mean_loss();
  switch (config.task) {
    case Task::charlm:
      result["loss"] = loss;
      result["bits_per_char"] = loss / std::log(2.0);
      result["accuracy"] = total.accuracy();
      break;
    case Task::adding: result["mse"] = loss; break;
    case Task::classification:
      result["loss"] = loss;
      result["accuracy"] = total.accuracy();
      break;
    case Task::mlm: SEQTRAIN_CHECK(false, "sequence evaluation of task mlm"); break;
  }
  // What was scored: predicted symbols for charlm, sequences for the others.
  result[config.task == Task::charlm ? "characters" : "examples"] = total.rows;
  if (confusion_wanted && confusion.total() == total.rows) result.update(confusion.to_json());
  return result;
}

}  // namespace seqtrain
