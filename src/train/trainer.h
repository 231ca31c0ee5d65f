// The trainer: one run of a RunConfig on one backend, from a fresh start or
// resumed from its run directory. The loop: accumulate gradients over
// micro-batches, clip by global norm, step the optimizer at the scheduled
// learning rate, then log, evaluate and checkpoint on their cadences. What is
// particular to a family of tasks (data, model, metrics, checkpointed state)
// is a TrainingTask (training_task.h).
//
// A run directory holds:
//   config.yaml        the resolved config (every key)
//   vocabulary.json    charlm / classification: the token vocabulary
//   data/              mlm: the tokenizer and token shards (mlm_run_data.h)
//   train.log          the human log
//   metrics.jsonl      one JSON object per logged step and per evaluation
//   checkpoints/step_N/ model.safetensors, optimizer.safetensors, trainer_state.json
//                      (mlm: also config.json and tokenizer.model)
// Resuming loads the latest checkpoint and continues exactly: the same thread
// count gives the same weights, bit for bit, as an uninterrupted run.
#pragma once

#include <string>
#include <vector>

namespace seqtrain {

struct TrainOptions {
  std::string config_path;             // may be empty when resuming
  std::vector<std::string> overrides;  // --set key=value
  std::string device = "auto";
  std::string resume_dir;              // empty: a fresh run
};

// Exit code: 0 when the run finished, 130 when SIGINT or SIGTERM stopped it
// (after saving a checkpoint). User errors are thrown as seqtrain::Error.
int run_training(const TrainOptions& options);

}  // namespace seqtrain
