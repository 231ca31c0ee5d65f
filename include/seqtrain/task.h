// What seqtrain trains: the config's `task`, with its names. The sequence
// models build the head a task needs (next-token logits at every step for
// charlm, one number for adding, class logits for classification); mlm is
// BERT's masked-LM pretraining.
#pragma once

namespace seqtrain {

enum class Task { charlm, adding, classification, mlm };
inline constexpr const char* kTaskNames[] = {"charlm", "adding", "classification", "mlm"};
constexpr const char* task_name(Task task) { return kTaskNames[static_cast<int>(task)]; }

}  // namespace seqtrain
