// One optimizer step of a run: the gradients of its micro-batches, combined so
// the step follows the mean loss over all their scored rows, then checked,
// clipped and applied.
//
// With k = training.gradient_accumulation > 1, each micro-batch's backward
// computes the gradient of its loss summed over its scored rows
// (RunContext::sum_loss_over_rows) and the total is divided by the step's
// scored rows. So k micro-batches of B rows give the gradient, the norm, the
// clipping and the update of one batch of k*B, also when the micro-batches
// score different numbers of rows (masked tokens, padded characters): the
// mean of k per-batch means would weigh a row of a sparse micro-batch more.
// With k = 1 the micro-batch's own mean-loss gradient is used as it is.
//
// Micro-batch i of step s (1-based) runs with RunContext{seed, (s - 1) * k + i},
// so every micro-batch of every step draws its own dropout masks.
//
// Data parallel (a communicator of N > 1 ranks): each rank's micro-batches
// are its slices of the global batches, gradients are summed over the scored
// rows as with accumulation, then summed over the ranks (with the metrics)
// and divided by the global scored rows, before the norm, the clipping and
// the update, which every rank then computes alike. Gradients go in buckets
// (gradient_buckets.h) after the step's last backward; the metrics go through
// `communicator` (host memory).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "dist/communicator.h"
#include "seqtrain/backend.h"
#include "seqtrain/parameters.h"
#include "train/grad_clip.h"
#include "train/gradient_buckets.h"
#include "train/optimizer.h"
#include "tasks/task_metrics.h"

namespace seqtrain {

struct OptimizerStepOptions {
  std::int64_t step = 1;          // 1-based, for the messages and the contexts
  std::int64_t accumulation = 1;  // micro-batches per step
  double clip_norm = 0.0;         // <= 0: no clipping
  float learning_rate = 0.0f;
  std::uint64_t seed = 0;
  Communicator* communicator = nullptr;  // null or 1 rank: this process alone
  // With more than one rank: the gradient buckets over `parameters`
  // (train/gradient_buckets.h), with the communicator of the backend's memory
  // (dist/device_communicator.h: NCCL for cuda); null reduces them as one
  // bucket per step with `communicator` (host memory).
  GradientBuckets* buckets = nullptr;
};

struct OptimizerStepResult {
  TaskMetrics metrics;    // summed over the micro-batches
  GradientNorm gradient;  // the global norm before clipping
  // Why the update was skipped ("the loss is nan", "the gradient of w is not
  // finite"), or empty when it was applied.
  std::string skipped;
  // Data parallel: seconds spent in the step's collectives (the metrics and
  // the gradient buckets), waiting for the slowest rank included; 0 alone.
  double communication_seconds = 0.0;
};

// Zeroes the gradients, runs micro_batch `accumulation` times (forward and
// backward of the next batch, returning its metrics), combines, clips and
// applies the update. With a non-finite loss or gradient nothing is applied:
// the weights and the optimizer's state stay as they were, and `skipped`
// says why (the trainer counts such steps).
OptimizerStepResult run_optimizer_step(
    const std::function<TaskMetrics(const RunContext&)>& micro_batch,
    ParameterStore& parameters, Optimizer& optimizer, const OptimizerStepOptions& options);

}  // namespace seqtrain
