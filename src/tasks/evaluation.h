// Validation metrics of a sequence task, as metrics.jsonl and `seqtrain eval`
// report them: charlm loss (nats), bits per character and next-symbol accuracy;
// adding-problem MSE; classification loss and accuracy.
#pragma once

#include <nlohmann/json.hpp>

#include "config/run_config.h"
#include "data/sequence_dataset.h"
#include "tasks/sequence_runner.h"

namespace seqtrain {

// Over the first config.training.eval_batches validation batches. With
// class_names (classification), also the per-class precision, recall, F1 and
// the confusion matrix (tasks/confusion_matrix.h).
nlohmann::json evaluate_sequence_task(SequenceRunner& runner, const SequenceDataset& dataset,
                                      const RunConfig& config,
                                      const std::vector<std::string>* class_names = nullptr);

}  // namespace seqtrain
