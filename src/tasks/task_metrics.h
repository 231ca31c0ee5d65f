// TaskMetrics: what a task reports about the batches it ran, summed so that a
// window of training steps or a whole validation pass reduces to one record.
#pragma once

#include <cstdint>

namespace seqtrain {

struct TaskMetrics {
  double loss_sum = 0.0;     // loss times rows
  std::int64_t rows = 0;     // scored rows: tokens (charlm), sequences, masked tokens (mlm)
  std::int64_t correct = 0;  // rows whose argmax is the target
  std::int64_t tokens = 0;   // input tokens read, for throughput

  void add(const TaskMetrics& other) {
    loss_sum += other.loss_sum;
    rows += other.rows;
    correct += other.correct;
    tokens += other.tokens;
  }
  double mean_loss() const { return rows == 0 ? 0.0 : loss_sum / static_cast<double>(rows); }
  double accuracy() const {
    return rows == 0 ? 0.0 : static_cast<double>(correct) / static_cast<double>(rows);
  }
};

}  // namespace seqtrain
