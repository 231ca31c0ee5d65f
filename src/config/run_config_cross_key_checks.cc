#include "config/run_config_cross_key_checks.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "config/schema.h"
#include "seqtrain/attention_head_dims.h"
#include "seqtrain/error.h"
#include "train/checkpoint_policy.h"

namespace seqtrain {
namespace {

// Keys that another key overrides (data.phases overrides data.sequence_length)
// are ignored at their defaults, which resolved configs write back, and an
// error otherwise.
bool given_unlike_default(const ConfigValues& values, std::string_view path) {
  const ConfigKey* key = run_config_schema().find(path);
  SEQTRAIN_CHECK(key != nullptr && key->default_value, "config key '{}' has no default", path);
  if (!values.is_given(path)) return false;
  if (key->type == ConfigType::integer)
    return ConfigValue(values.integer(path)) != key->default_value;
  return ConfigValue(values.number(path)) != key->default_value;
}

void check_mlm_keys(const ConfigValues& values, const RunConfig& config) {
  const DataConfig& data = config.data;
  const BertModelConfig& bert = config.model.bert;
  if (!data.path && !data.shards)
    values.fail(
        "missing key 'data.path': required when task is mlm (the corpus to pretrain on, e.g. "
        "data/fortunes.txt), unless data.shards names data made by `seqtrain data prepare`");
  if (data.path && data.shards)
    values.fail_at("data.shards",
                   "names prepared data, but data.path names a corpus to prepare; remove one of "
                   "the two");
  if (data.shards) {
    for (const char* path : {"data.tokenizer.vocab_size", "data.tokenizer.character_coverage",
                             "data.tokenizer.sample_mb", "data.validation_fraction"})
      if (given_unlike_default(values, path))
        values.fail_at(path,
                       "shapes the data a run prepares, but data.shards names data already "
                       "prepared (with `seqtrain data prepare`); remove it");
    if (values.is_given("data.cache_dir"))
      values.fail_at("data.cache_dir",
                     "is where a run prepares its data, but data.shards names data already "
                     "prepared; remove it");
  }
  if (bert.hidden_size % bert.heads != 0)
    values.fail_at(
        "model.bert.heads",
        fmt::format("must divide model.bert.hidden_size ({}) into equal heads", bert.hidden_size));
  else if (const auto head_dim = bert.hidden_size / bert.heads;
           !is_attention_head_dim(static_cast<int>(head_dim))) {
    std::string fix = "a model.bert.hidden_size that is a multiple of 32";
    for (const int dim : {64, 32, 128})
      if (bert.hidden_size % dim == 0) {
        fix = fmt::format("heads: {}", bert.hidden_size / dim);
        break;
      }
    values.fail_at("model.bert.heads",
                   fmt::format("gives heads of {} / {} = {} dimensions; the attention op "
                               "supports 32, 64 or 128 (e.g. {})",
                               bert.hidden_size, bert.heads, head_dim, fix));
  }
  if (data.tokenizer.path)
    for (const char* path : {"data.tokenizer.vocab_size", "data.tokenizer.character_coverage",
                             "data.tokenizer.sample_mb"})
      if (given_unlike_default(values, path))
        values.fail_at(path,
                       "trains a tokenizer, but data.tokenizer.path names one to use; remove "
                       "one of the two");
  if (config.training.init_from && bert.pre_layernorm)
    values.fail_at("training.init_from",
                   "starts from Hugging Face BERT weights, which are post-LN; set "
                   "model.bert.pre_layernorm to false");
  if (data.masking.replace_with_mask + data.masking.replace_with_random > 1)
    values.fail_at("data.masking.replace_with_random",
                   fmt::format("plus data.masking.replace_with_mask ({}) must be <= 1",
                               format_config_value(data.masking.replace_with_mask)));
  if (!data.phases.empty()) {
    for (const char* path : {"data.sequence_length", "data.batch_size"})
      if (given_unlike_default(values, path))
        values.fail_at(path,
                       "is set by data.phases when task is mlm; give each phase its "
                       "sequence_length and batch_size there instead");
  }
  // Phases that start after training.steps are allowed (a short trial run of
  // a long config); the trainer logs that they will not run.
  const std::vector<MlmPhaseConfig> phases = mlm_phases(config);
  const char* phase_key = data.phases.empty() ? "data.sequence_length" : "data.phases";
  for (std::size_t p = 0; p < phases.size(); ++p) {
    if (phases[p].sequence_length < 3)
      values.fail_at(phase_key,
                     fmt::format("sequence length {}{} is too short; a sequence holds [CLS], at "
                                 "least one token and [SEP], so at least 3",
                                 phases[p].sequence_length,
                                 data.phases.empty() ? "" : fmt::format(" of phase {}", p + 1)));
    if (phases[p].sequence_length > bert.max_positions)
      values.fail_at(phase_key,
                     fmt::format("sequence length {}{} exceeds "
                                 "model.bert.max_positions ({})",
                                 phases[p].sequence_length,
                                 data.phases.empty() ? "" : fmt::format(" of phase {}", p + 1),
                                 bert.max_positions));
  }
}

}  // namespace

void resolve_model_type_alias(const ConfigValues& values, RunConfig& config) {
  ModelConfig& model = config.model;
  if (values.is_given("model.cell")) {
    const ModelType named = model_type_of(model.cell);
    if (!values.is_given("model.type"))
      model.type = named;
    else if (model.type != named)
      values.fail_at("model.cell",
                     fmt::format("is the older name of model.type, which says {}; give one of "
                                 "the two",
                                 model_type_name(model.type)));
  }
  if (const std::optional<RnnCell> cell = recurrent_cell_of(model.type)) model.cell = *cell;
}

void check_across_keys(const ConfigValues& values, const RunConfig& config) {
  const std::string_view task = task_name(config.task);
  // A task takes the models that yield its head: today BERT's masked-LM head
  // for mlm, the recurrent stacks' heads for the sequence tasks, and the
  // Transformer encoder's (causal for charlm).
  const bool recurrent = recurrent_cell_of(config.model.type).has_value();
  const bool transformer = config.model.type == ModelType::transformer;
  if (config.task == Task::mlm ? config.model.type != ModelType::bert
                               : !recurrent && !transformer)
    values.fail_at(
        "model.type",
        fmt::format("{} cannot serve task {}: use {}", model_type_name(config.model.type), task,
                    config.task == Task::mlm ? "bert" : "lstm, gru, rnn or transformer"));
  if (transformer) {
    const std::int64_t heads = config.model.heads, hidden = config.model.hidden_size;
    if (hidden % heads != 0 || !is_attention_head_dim(static_cast<int>(hidden / heads)))
      values.fail_at("model.heads",
                     fmt::format("model.hidden_size {} / {} heads must be a head dimension the "
                                 "attention op has (32, 64 or 128)",
                                 hidden, heads));
    if (config.model.bidirectional)
      values.fail_at("model.bidirectional",
                     "is for the recurrent types; a transformer's attention already reads both "
                     "ways");
    if (config.model.impl == RnnImpl::cudnn)
      values.fail_at("model.impl", "is for the recurrent types; a transformer has no recurrent "
                                   "layers");
    if (config.training.carry_state)
      values.fail_at("training.carry_state",
                     "is for the recurrent types; a transformer carries no state from one batch "
                     "to the next (it re-reads its whole window); remove it or set false");
  }
  if (config.task == Task::charlm) {
    if (!config.data.path)
      values.fail(
          fmt::format("missing key 'data.path': required when task is {} (the text file "
                      "to train on)",
                      task));
    if (config.model.bidirectional)
      values.fail_at("model.bidirectional",
                     "must be false when task is charlm (a language model must not see the "
                     "characters it predicts)");
    for (const char* path : {"data.train_path", "data.validation_path"})
      if (values.is_set(path))
        values.fail_at(path, "is for classification; charlm reads its text from data.path");
  }
  if (config.task == Task::classification) {
    if (!config.data.train_path)
      values.fail(fmt::format("missing key 'data.train_path': required when task is {}", task));
    if (config.data.path)
      values.fail_at("data.path",
                     "is for charlm; classification reads data.train_path (and "
                     "data.validation_path)");
  }
  if (config.task == Task::mlm) check_mlm_keys(values, config);
  if (config.model.impl == RnnImpl::cudnn && config.model.bidirectional)
    values.fail_at("model.impl",
                   "cudnn runs forward-direction layers only; set model.bidirectional: false or "
                   "model.impl: fused");
  const TrainingConfig& training = config.training;
  // A warmup longer than the run is clamped by the trainer (clamp_warmup_steps,
  // lr_schedule.h), with a warning, so that a smoke run with few steps runs.
  // keep_best and early_stopping follow a number of the task's validation records.
  auto check_metric = [&](const char* key, const std::optional<std::string>& metric) {
    if (!metric) return;
    const std::vector<std::string>& names = selectable_validation_metrics(config.task);
    if (std::find(names.begin(), names.end(), *metric) == names.end())
      values.fail_at(key, fmt::format("task {} validates {}; name one of them", task_name(config.task),
                                      fmt::join(names, ", ")));
  };
  check_metric("training.keep_best", training.keep_best);
  check_metric("training.early_stopping.metric", training.early_stopping.metric);
  if (training.early_stopping.metric && training.eval_every == 0)
    values.fail_at("training.early_stopping.metric",
                   "needs validations during the run: set training.eval_every > 0");
  if (training.schedule.decay != LrDecay::constant &&
      training.schedule.final_learning_rate > training.optimizer.learning_rate)
    values.fail_at("training.schedule.final_learning_rate",
                   fmt::format("must be <= training.optimizer.learning_rate ({}) when decay is {}",
                               format_config_value(training.optimizer.learning_rate),
                               lr_decay_name(training.schedule.decay)));
}

}  // namespace seqtrain
