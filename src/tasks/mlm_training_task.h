// Masked-LM pretraining of BERT (task mlm) as a TrainingTask: the run's
// tokenizer and shards (mlm_run_data.h), an MlmPhasedDataset over them with
// the config's phases and masking, a BertModel and an MlmRunner.
//
// Metrics, in training records and validation: mlm_loss (mean cross-entropy
// over the masked tokens, nats), mlm_accuracy (share of masked tokens whose
// argmax is the original), perplexity (exp of mlm_loss), and the phase's
// sequence_length. Validation also reports masked_tokens,
// majority_token_accuracy (always predicting the most frequent original token
// of those same masked positions: the baseline the model must beat), and the
// accuracy with its baseline and the loss over the masked positions whose
// input is [MASK] alone, where there is nothing to copy
// (mlm_validation_metrics.h).
// Validation uses the layout of the phase that served the last training step
// (phase 1 before any).
//
// Checkpoints hold model.safetensors in Hugging Face BertForMaskedLM names
// with config.json beside it, so BertForMaskedLM.from_pretrained(step_dir)
// loads them (pre-LN models, which Hugging Face lacks, keep seqtrain's
// parameter names and have no config.json), and tokenizer.model, the run's
// tokenizer. Trainer state: {"data_position": <MlmPhasedDataset position>}.
#pragma once

#include <filesystem>
#include <memory>

#include "models/bert.h"
#include "tasks/training_task.h"

namespace seqtrain {

// The BERT of a run config, for a tokenizer of vocabulary_size pieces.
BertSpec bert_spec_of(const RunConfig& config, std::int64_t vocabulary_size);

std::unique_ptr<TrainingTask> make_mlm_training_task(const RunConfig& config,
                                                     const std::filesystem::path& run_dir,
                                                     Backend& backend, ParameterStore& parameters,
                                                     RunStart start);

}  // namespace seqtrain
