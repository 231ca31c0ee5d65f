// The run configuration: what one YAML file (plus --set overrides) tells
// seqtrain to do, fully validated before any work starts. The keys, their
// defaults, ranges and docs are declared once in run_config_keys.cc, the
// checks across keys are in run_config_cross_key_checks.cc; see
// docs/configuration.md for the table generated from them. Which config a run
// uses (a fresh run's file or a resumed run's own) is resolve_run_config.h.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "models/model_type.h"
#include "seqtrain/op_types.h"
#include "seqtrain/task.h"
#include "train/lr_schedule.h"

namespace seqtrain {

class ConfigSchema;

// The choices of the keys, one enum per concept with its name table beside
// it: Task (seqtrain/task.h), RnnCell, RnnImpl and Precision (seqtrain/op_types.h),
// LrDecay (train/lr_schedule.h), and these two, which only the config has.
enum class Vocabulary { byte, character };
inline constexpr const char* kVocabularyNames[] = {"byte", "char"};
enum class OptimizerName { adamw, sgd };
inline constexpr const char* kOptimizerNames[] = {"adamw", "sgd"};

// The names the YAML uses ("char", "adamw").
std::string_view to_string(Vocabulary vocabulary);
std::string_view to_string(OptimizerName name);

// task mlm: the BERT encoder (src/models/bert.h).
struct BertModelConfig {
  std::int64_t hidden_size = 0;
  std::int64_t layers = 0;
  std::int64_t heads = 0;
  std::int64_t intermediate_size = 0;
  std::int64_t max_positions = 0;
  bool pre_layernorm = false;
  double hidden_dropout = 0;
  double attention_dropout = 0;

  bool operator==(const BertModelConfig&) const = default;
};

// The recurrent keys are for charlm, adding and classification; bert for mlm.
struct ModelConfig {
  ModelType type = ModelType::lstm;
  RnnCell cell = RnnCell::lstm;  // the recurrent types' cell (model.cell: an alias of model.type)
  RnnImpl impl = RnnImpl::fused;
  std::int64_t hidden_size = 0;
  std::int64_t layers = 0;
  bool bidirectional = false;
  std::int64_t embedding_size = 0;
  double dropout = 0;
  std::int64_t heads = 0;              // transformer
  std::int64_t intermediate_size = 0;  // transformer: 0 = 4 * hidden_size
  BertModelConfig bert;

  bool operator==(const ModelConfig&) const = default;
};

// task mlm: one phase of the sequence-length schedule (data/mlm_phased_dataset.h).
struct MlmPhaseConfig {
  std::int64_t steps = 0;
  std::int64_t sequence_length = 0;
  std::int64_t batch_size = 0;

  bool operator==(const MlmPhaseConfig&) const = default;
};

// task mlm: the SentencePiece tokenizer, trained on data.path unless path names one.
struct TokenizerConfig {
  std::optional<std::string> path;
  std::int64_t vocab_size = 0;
  double character_coverage = 0;
  double sample_mb = 0;  // a larger corpus trains the tokenizer on a sample of about this size

  bool operator==(const TokenizerConfig&) const = default;
};

// task mlm: BERT's masking (data/mlm_masking.h).
struct MaskingConfig {
  double mask_rate = 0;
  double replace_with_mask = 0;
  double replace_with_random = 0;

  bool operator==(const MaskingConfig&) const = default;
};

struct DataConfig {
  std::optional<std::string> path;  // charlm: the text file (always set); mlm: a file or glob
  Vocabulary vocabulary = Vocabulary::byte;
  double validation_fraction = 0;
  std::optional<std::string> train_path;       // classification (always set there)
  std::optional<std::string> validation_path;  // classification; else split off train_path
  std::int64_t sequence_length = 0;
  std::int64_t batch_size = 0;
  std::int64_t validation_size = 0;
  std::optional<std::string> cache_dir;  // mlm; unset: <run_dir>/data
  std::optional<std::string> shards;     // mlm: prepared by `seqtrain data prepare`, not data.path
  TokenizerConfig tokenizer;             // mlm
  MaskingConfig masking;                 // mlm
  std::vector<MlmPhaseConfig> phases;    // mlm; empty: one phase (see mlm_phases)

  bool operator==(const DataConfig&) const = default;
};

struct OptimizerConfig {
  OptimizerName name = OptimizerName::adamw;
  double learning_rate = 0;
  std::array<double, 2> betas{};
  double epsilon = 0;
  double weight_decay = 0;
  double momentum = 0;

  bool operator==(const OptimizerConfig&) const = default;
};

struct ScheduleConfig {
  std::int64_t warmup_steps = 0;
  LrDecay decay = LrDecay::cosine;
  double final_learning_rate = 0;

  bool operator==(const ScheduleConfig&) const = default;
};

// training.early_stopping: stop when `metric` has not improved by more than
// min_delta for `patience` validations in a row (train/checkpoint_policy.h).
struct EarlyStoppingConfig {
  std::optional<std::string> metric;  // unset: no early stopping
  std::int64_t patience = 0;
  double min_delta = 0;

  bool operator==(const EarlyStoppingConfig&) const = default;
};

struct TrainingConfig {
  std::int64_t steps = 0;
  std::int64_t gradient_accumulation = 0;
  OptimizerConfig optimizer;
  ScheduleConfig schedule;
  double clip_norm = 0;         // 0: no clipping
  Precision precision = Precision::fp32;  // of the GEMM inputs
  std::int64_t max_skipped_steps = 0;  // non-finite steps in a row before the run stops
  std::int64_t eval_every = 0;  // 0: only at the end
  std::int64_t eval_batches = 0;
  std::int64_t checkpoint_every = 0;  // 0: only at the end
  std::int64_t log_every = 0;
  bool tensorboard = false;              // event files in <run_dir>/tensorboard
  std::int64_t keep_checkpoints = 0;     // the newest N; 0: all
  std::optional<std::string> keep_best;  // a validation metric (train/checkpoint_policy.h)
  EarlyStoppingConfig early_stopping;
  bool carry_state = true;
  std::optional<std::string> init_from;  // weights to start from (tasks differ: run_config_keys.cc)

  bool operator==(const TrainingConfig&) const = default;
};

struct DistributedConfig {
  double bucket_mb = 0;  // gradients all-reduced in buckets of about this many MiB
  double timeout_s = 0;  // a rank waiting longer in one collective ends the job; 0: never

  bool operator==(const DistributedConfig&) const = default;
};

struct RunConfig {
  Task task = Task::charlm;
  std::int64_t seed = 0;
  std::int64_t threads = 0;  // 0: all cores
  std::string run_dir;       // "runs/<task>" unless given
  ModelConfig model;
  DataConfig data;
  TrainingConfig training;
  DistributedConfig distributed;

  bool operator==(const RunConfig&) const = default;
};

// task mlm: data.phases, or when it is not set the one phase of
// data.sequence_length and data.batch_size (written with steps 1: the last
// phase runs on to the end of training however long that is).
std::vector<MlmPhaseConfig> mlm_phases(const RunConfig& config);

// Reads the YAML file at path, applies overrides ("training.steps=500",
// "training.optimizer.betas=[0.9,0.98]") and validates everything. Every user
// mistake is a ConfigError of one line naming the key, the value and what is accepted.
RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides);
// The same from YAML text; source_name stands for the file name in errors.
RunConfig run_config_from_yaml_text(std::string_view text, const std::string& source_name,
                                    const std::vector<std::string>& overrides);

// The complete effective config as YAML (every key, defaults filled in), for the
// run directory. Loading it again gives an equal RunConfig.
std::string resolved_yaml(const RunConfig& config);

// The key reference tables of docs/configuration.md, generated from the schema
// (tests/config_test.cc keeps the document in step with it).
std::string run_config_reference_markdown();

// The schema behind all of the above, for tools and tests.
const ConfigSchema& run_config_schema();

}  // namespace seqtrain
