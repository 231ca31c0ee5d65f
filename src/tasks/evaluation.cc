#include "tasks/evaluation.h"

#include <cmath>

#include "seqtrain/error.h"

namespace seqtrain {

nlohmann::json evaluate_sequence_task(SequenceRunner& runner, const SequenceDataset& dataset,
                                      const RunConfig& config) {
  runner.reset_evaluation_state();
  TaskMetrics total;
  for (const SequenceBatch& batch : dataset.validation_batches(config.training.eval_batches))
    total.add(runner.evaluate_batch(batch));
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
  return result;
}

}  // namespace seqtrain
