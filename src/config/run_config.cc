#include "config/run_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <map>
#include <tuple>
#include <type_traits>
#include <utility>

#include "config/config_yaml.h"
#include "config/schema.h"
#include "seqtrain/attention_head_dims.h"
#include "seqtrain/cpu_threads.h"
#include "seqtrain/error.h"

namespace seqtrain {
namespace {

// Conditions of keys that only one family of tasks reads.
const std::vector<std::string> kSequenceTasks{"charlm", "adding", "classification"};
const std::vector<std::string> kMlmTask{"mlm"};

// An integer field of a record_list key.
ConfigKey record_field(std::string name, std::string doc, double minimum) {
  ConfigKey field;
  field.path = std::move(name);
  field.type = ConfigType::integer;
  field.doc = std::move(doc);
  field.at_least(minimum);
  return field;
}

// How one key's value moves between ConfigValues and its RunConfig member.
struct FieldBinding {
  std::string path;
  std::function<void(const ConfigValues&, RunConfig&)> read;
  std::function<std::optional<ConfigValue>(const RunConfig&)> write;
};

// The YAML path of every key is the path of its RunConfig member, so one macro
// names both: RUN_CONFIG_KEY(training.steps) is "training.steps" and an accessor
// returning config.training.steps.
#define RUN_CONFIG_KEY(member)         \
#member, [](auto& config) -> auto& { \
    return config.member;              \
  }

// The schema plus the bindings, declared together key by key.
class RunConfigTable {
 public:
  template <class Field>
  ConfigKey& integer(std::string path, Field field, std::string doc) {
    bind(
        path,
        [field, path](const ConfigValues& values, RunConfig& config) {
          field(config) = values.integer(path);
        },
        [field](const RunConfig& config) -> std::optional<ConfigValue> { return field(config); });
    return schema_.add_integer(std::move(path), std::move(doc));
  }

  template <class Field>
  ConfigKey& number(std::string path, Field field, std::string doc) {
    bind(
        path,
        [field, path](const ConfigValues& values, RunConfig& config) {
          field(config) = values.number(path);
        },
        [field](const RunConfig& config) -> std::optional<ConfigValue> { return field(config); });
    return schema_.add_number(std::move(path), std::move(doc));
  }

  template <class Field>
  ConfigKey& boolean(std::string path, Field field, std::string doc) {
    bind(
        path,
        [field, path](const ConfigValues& values, RunConfig& config) {
          field(config) = values.boolean(path);
        },
        [field](const RunConfig& config) -> std::optional<ConfigValue> { return field(config); });
    return schema_.add_boolean(std::move(path), std::move(doc));
  }

  // A std::optional<std::string> member stays empty when the key is not set; a
  // std::string member keeps what the caller derives for it.
  template <class Field>
  ConfigKey& string(std::string path, Field field, std::string doc) {
    bind(
        path,
        [field, path](const ConfigValues& values, RunConfig& config) {
          if (values.is_set(path)) field(config) = values.string(path);
        },
        [field](const RunConfig& config) -> std::optional<ConfigValue> {
          const auto& member = field(config);
          if constexpr (std::is_same_v<std::decay_t<decltype(member)>, std::string>) {
            return member;
          } else {
            if (!member) return std::nullopt;
            return *member;
          }
        });
    return schema_.add_string(std::move(path), std::move(doc));
  }

  // An enum member whose values are named by names, the enum's name table (in
  // enum order).
  template <class Field, std::size_t count>
  ConfigKey& choice(std::string path, Field field, const char* const (&names)[count],
                    std::string doc) {
    std::array<std::string_view, count> name_views;
    std::copy(std::begin(names), std::end(names), name_views.begin());
    return choice(std::move(path), field, name_views, std::move(doc));
  }
  template <class Field, std::size_t count>
  ConfigKey& choice(std::string path, Field field, const std::array<std::string_view, count>& names,
                    std::string doc) {
    bind(
        path,
        [field, path, names](const ConfigValues& values, RunConfig& config) {
          const std::string& name = values.string(path);
          auto& member = field(config);
          for (std::size_t i = 0; i < count; ++i)
            if (names[i] == name) member = static_cast<std::decay_t<decltype(member)>>(i);
        },
        [field, names](const RunConfig& config) -> std::optional<ConfigValue> {
          return std::string(names[static_cast<std::size_t>(field(config))]);
        });
    return schema_.add_choice(std::move(path), std::vector<std::string>(names.begin(), names.end()),
                              std::move(doc));
  }

  // A std::array<double, N> member.
  template <class Field>
  ConfigKey& number_list(std::string path, Field field, std::string doc) {
    constexpr std::size_t length =
        std::tuple_size_v<std::decay_t<decltype(field(std::declval<RunConfig&>()))>>;
    bind(
        path,
        [field, path](const ConfigValues& values, RunConfig& config) {
          const std::vector<double>& list = values.number_list(path);
          std::copy(list.begin(), list.end(), field(config).begin());
        },
        [field](const RunConfig& config) -> std::optional<ConfigValue> {
          const auto& member = field(config);
          return std::vector<double>(member.begin(), member.end());
        });
    return schema_.add_number_list(std::move(path), length, std::move(doc));
  }

  // The data.phases list: a std::vector<MlmPhaseConfig> member, empty when unset.
  template <class Field>
  ConfigKey& phase_list(std::string path, Field field, std::string doc) {
    bind(
        path,
        [field, path](const ConfigValues& values, RunConfig& config) {
          field(config).clear();
          if (!values.is_set(path)) return;
          for (const ConfigRecord& record : values.record_list(path)) {
            MlmPhaseConfig phase;
            for (const auto& [name, value] : record) {
              if (name == "steps") phase.steps = value;
              if (name == "sequence_length") phase.sequence_length = value;
              if (name == "batch_size") phase.batch_size = value;
            }
            field(config).push_back(phase);
          }
        },
        [field](const RunConfig& config) -> std::optional<ConfigValue> {
          if (field(config).empty()) return std::nullopt;
          std::vector<ConfigRecord> records;
          for (const MlmPhaseConfig& phase : field(config))
            records.push_back({{"steps", phase.steps},
                               {"sequence_length", phase.sequence_length},
                               {"batch_size", phase.batch_size}});
          return records;
        });
    return schema_.add_record_list(
        std::move(path),
        {record_field("steps", "training steps in this phase", 1),
         record_field("sequence_length", "tokens per sequence, [CLS] and [SEP] included", 3),
         record_field("batch_size", "sequences per batch", 1)},
        std::move(doc));
  }

  const ConfigSchema& schema() const { return schema_; }
  const std::vector<FieldBinding>& bindings() const { return bindings_; }

 private:
  template <class Read, class Write>
  void bind(const std::string& path, Read read, Write write) {
    bindings_.push_back(FieldBinding{path, std::move(read), std::move(write)});
  }

  ConfigSchema schema_;
  std::vector<FieldBinding> bindings_;
};

// Every key seqtrain reads. To add one: add the member to run_config.h (its path
// there is its YAML path), declare it here, document it in the doc string, and
// regenerate docs/configuration.md (see tests/config_test.cc).
RunConfigTable build_table() {
  RunConfigTable table;
  table
      .choice(RUN_CONFIG_KEY(task), kTaskNames,
              "What to train: a character language model on a text file, the adding problem "
              "(synthetic), sequence classification, or masked-LM pretraining of BERT (mlm).")
      .required();
  table
      .integer(RUN_CONFIG_KEY(seed),
               "Seed of every random stream (initialisation, data order, dropout).")
      .with_default(std::int64_t{1234})
      .at_least(0);
  table.integer(RUN_CONFIG_KEY(threads),
                "CPU threads to use; 0 uses OMP_NUM_THREADS when it is set, else all cores.")
      .with_default(std::int64_t{0})
      .at_least(0)
      .at_most(kMaxCpuThreads);
  table
      .string(RUN_CONFIG_KEY(run_dir),
              "Directory for the resolved config, logs and checkpoints; a fresh run needs it "
              "empty or absent.")
      .with_derived_default("runs/<task>");

  table.choice(RUN_CONFIG_KEY(model.cell), kRnnCellNames, "Recurrent cell.")
      .with_default(std::string("lstm"))
      .only_when("task", kSequenceTasks);
  table
      .choice(RUN_CONFIG_KEY(model.impl), kRnnImplNames,
              "Whose code runs the recurrent layers on --device cuda: seqtrain's fused cell "
              "kernels, or cuDNN's RNN (for comparing the two on a GPU; forward-direction layers "
              "only, untested until run on a GPU). The cpu and serial backends have fused only.")
      .with_default(std::string("fused"))
      .only_when("task", kSequenceTasks);
  table.integer(RUN_CONFIG_KEY(model.hidden_size), "Width of the recurrent state.")
      .with_default(std::int64_t{256})
      .at_least(1)
      .only_when("task", kSequenceTasks);
  table.integer(RUN_CONFIG_KEY(model.layers), "Stacked recurrent layers.")
      .with_default(std::int64_t{1})
      .at_least(1)
      .only_when("task", kSequenceTasks);
  table
      .boolean(RUN_CONFIG_KEY(model.bidirectional),
               "Also read each sequence backwards and concatenate both states; not for charlm.")
      .with_default(false)
      .only_when("task", kSequenceTasks);
  table
      .integer(RUN_CONFIG_KEY(model.embedding_size),
               "Width of the token embedding (charlm and classification).")
      .with_default(std::int64_t{64})
      .at_least(1)
      .only_when("task", kSequenceTasks);
  table
      .number(RUN_CONFIG_KEY(model.dropout),
              "Probability of zeroing an activation between layers during training.")
      .with_default(0.0)
      .at_least(0)
      .less_than(1)
      .only_when("task", kSequenceTasks);

  table.integer(RUN_CONFIG_KEY(model.bert.hidden_size), "Width of every token's representation.")
      .with_default(std::int64_t{128})
      .at_least(1)
      .only_when("task", kMlmTask);
  table.integer(RUN_CONFIG_KEY(model.bert.layers), "Transformer encoder layers.")
      .with_default(std::int64_t{2})
      .at_least(1)
      .only_when("task", kMlmTask);
  table
      .integer(RUN_CONFIG_KEY(model.bert.heads),
               "Attention heads; hidden_size / heads is the head dimension (32, 64 or 128).")
      .with_default(std::int64_t{2})
      .at_least(1)
      .only_when("task", kMlmTask);
  table
      .integer(RUN_CONFIG_KEY(model.bert.intermediate_size),
               "Width of the feed-forward layer (BERT: 4 * hidden_size).")
      .with_default(std::int64_t{512})
      .at_least(1)
      .only_when("task", kMlmTask);
  table
      .integer(RUN_CONFIG_KEY(model.bert.max_positions),
               "Position embeddings: the longest sequence the model can read.")
      .with_default(std::int64_t{512})
      .at_least(3)
      .at_most(1 << 20)
      .only_when("task", kMlmTask);
  table
      .boolean(RUN_CONFIG_KEY(model.bert.pre_layernorm),
               "LayerNorm before each sublayer (pre-LN) instead of after (BERT's post-LN); "
               "pre-LN checkpoints have no Hugging Face counterpart.")
      .with_default(false)
      .only_when("task", kMlmTask);
  table
      .number(RUN_CONFIG_KEY(model.bert.hidden_dropout),
              "Dropout on the embeddings and on each sublayer's output during training.")
      .with_default(0.1)
      .at_least(0)
      .less_than(1)
      .only_when("task", kMlmTask);
  table
      .number(RUN_CONFIG_KEY(model.bert.attention_dropout),
              "Dropout on the attention probabilities during training.")
      .with_default(0.1)
      .at_least(0)
      .less_than(1)
      .only_when("task", kMlmTask);

  table.string(RUN_CONFIG_KEY(data.path),
               "charlm: the text file to train on; mlm: the corpus, UTF-8 text whose "
               "blank-line-separated blocks are documents (required for both).");
  table
      .choice(RUN_CONFIG_KEY(data.vocabulary), kVocabularyNames,
              "charlm: tokens are bytes (256 symbols) or the Unicode characters of the training "
              "text, which must then be UTF-8.")
      .with_default(std::string("byte"))
      .only_when("task", kSequenceTasks);
  table
      .number(RUN_CONFIG_KEY(data.validation_fraction),
              "Share of the data held out for validation when no separate validation file is "
              "given.")
      .with_default(0.05)
      .greater_than(0)
      .at_most(0.5);
  table
      .string(RUN_CONFIG_KEY(data.train_path),
              "classification: the training examples (required there).")
      .only_when("task", kSequenceTasks);
  table
      .string(RUN_CONFIG_KEY(data.validation_path),
              "classification: the validation examples; if unset, validation_fraction of "
              "train_path is held out.")
      .only_when("task", kSequenceTasks);
  table
      .integer(RUN_CONFIG_KEY(data.sequence_length),
               "charlm: truncated-BPTT length; adding: sequence length T; classification: "
               "longest sequence kept; mlm: tokens per sequence with [CLS] and [SEP] (at least "
               "3) when data.phases is not set.")
      .with_default(std::int64_t{128})
      .at_least(1);
  table.integer(RUN_CONFIG_KEY(data.batch_size), "Sequences per batch.")
      .with_default(std::int64_t{32})
      .at_least(1);
  table
      .integer(RUN_CONFIG_KEY(data.validation_size),
               "adding: number of validation sequences generated.")
      .with_default(std::int64_t{1000})
      .at_least(1)
      .only_when("task", kSequenceTasks);

  table
      .string(RUN_CONFIG_KEY(data.cache_dir),
              "Where the trained tokenizer and token shards are kept and reused (rebuilt when "
              "the corpus or tokenizer options change).")
      .with_derived_default("<run_dir>/data")
      .only_when("task", kMlmTask);
  table
      .string(RUN_CONFIG_KEY(data.tokenizer.path),
              "A tokenizer directory (seqtrain tokenizer train, or a checkpoint directory, which "
              "holds the run's tokenizer.model) to use instead of training one on data.path.")
      .only_when("task", kMlmTask);
  table
      .integer(RUN_CONFIG_KEY(data.tokenizer.vocab_size),
               "Pieces in the SentencePiece vocabulary trained on data.path, the 5 special "
               "tokens included.")
      .with_default(std::int64_t{8000})
      .at_least(6)
      .only_when("task", kMlmTask);
  table
      .number(RUN_CONFIG_KEY(data.tokenizer.character_coverage),
              "Share of the corpus's characters the trained tokenizer covers; rarer ones become "
              "[UNK].")
      .with_default(0.9995)
      .greater_than(0)
      .at_most(1)
      .only_when("task", kMlmTask);
  table
      .number(RUN_CONFIG_KEY(data.masking.mask_rate),
              "Share of each sequence's maskable tokens the model must predict.")
      .with_default(0.15)
      .greater_than(0)
      .at_most(1)
      .only_when("task", kMlmTask);
  table
      .number(RUN_CONFIG_KEY(data.masking.replace_with_mask),
              "Of the chosen tokens, the share replaced by [MASK].")
      .with_default(0.8)
      .at_least(0)
      .at_most(1)
      .only_when("task", kMlmTask);
  table
      .number(RUN_CONFIG_KEY(data.masking.replace_with_random),
              "Of the chosen tokens, the share replaced by a random token (the rest stay "
              "unchanged).")
      .with_default(0.1)
      .at_least(0)
      .at_most(1)
      .only_when("task", kMlmTask);
  table
      .phase_list(RUN_CONFIG_KEY(data.phases),
                  "Sequence-length schedule: phases run in order, each for its steps (optimizer "
                  "steps: with training.gradient_accumulation k, each is k micro-batches of the "
                  "phase) with its sequence length and batch size; the last runs on to "
                  "training.steps. Not set: one phase of data.sequence_length and "
                  "data.batch_size.")
      .only_when("task", kMlmTask);

  table.integer(RUN_CONFIG_KEY(training.steps), "Optimizer steps to train for.")
      .with_default(std::int64_t{1000})
      .at_least(1);
  table
      .integer(RUN_CONFIG_KEY(training.gradient_accumulation),
               "Batches whose gradients are summed before each optimizer step.")
      .with_default(std::int64_t{1})
      .at_least(1);
  table
      .choice(RUN_CONFIG_KEY(training.optimizer.name), kOptimizerNames,
              "AdamW (decoupled weight decay) or SGD with momentum.")
      .with_default(std::string("adamw"));
  table
      .number(RUN_CONFIG_KEY(training.optimizer.learning_rate),
              "Peak learning rate, reached at the end of warmup.")
      .with_default(1e-3)
      .greater_than(0)
      .with_default_when("task", "mlm", 1e-4);
  table
      .number_list(RUN_CONFIG_KEY(training.optimizer.betas),
                   "adamw: decay rates of the first and second moment estimates.")
      .with_default(std::vector<double>{0.9, 0.999})
      .at_least(0)
      .less_than(1);
  table
      .number(RUN_CONFIG_KEY(training.optimizer.epsilon),
              "adamw: added to the root of the second moment to avoid division by zero.")
      .with_default(1e-8)
      .greater_than(0)
      .with_default_when("task", "mlm", 1e-6);
  table
      .number(RUN_CONFIG_KEY(training.optimizer.weight_decay),
              "Weight decay coefficient (decoupled for adamw); biases and normalisation gains "
              "are not decayed.")
      .with_default(0.0)
      .at_least(0)
      .with_default_when("task", "mlm", 0.01);
  table.number(RUN_CONFIG_KEY(training.optimizer.momentum), "sgd: momentum.")
      .with_default(0.9)
      .at_least(0)
      .less_than(1);
  table
      .integer(RUN_CONFIG_KEY(training.schedule.warmup_steps),
               "Steps of linear warmup from 0 to the learning rate; below training.steps (at "
               "most training.steps when decay is constant). When task is mlm and the key is "
               "not given: 1% of training.steps (BERT warmed up for 10,000 of 1,000,000 steps).")
      .with_default(std::int64_t{0})
      .at_least(0);
  table
      .choice(RUN_CONFIG_KEY(training.schedule.decay), kLrDecayNames,
              "Shape of the decay from the learning rate to final_learning_rate after warmup.")
      .with_default(std::string("cosine"))
      .with_default_when("task", "mlm", std::string("linear"));
  table
      .number(RUN_CONFIG_KEY(training.schedule.final_learning_rate),
              "Learning rate at the last step (linear and cosine decay); at most the learning "
              "rate.")
      .with_default(0.0)
      .at_least(0);
  table
      .number(RUN_CONFIG_KEY(training.clip_norm),
              "Clip the global gradient norm to this value; 0 turns clipping off.")
      .with_default(1.0)
      .at_least(0);
  table
      .integer(RUN_CONFIG_KEY(training.eval_every),
               "Validate every this many steps; 0 validates only at the end.")
      .with_default(std::int64_t{200})
      .at_least(0);
  table.integer(RUN_CONFIG_KEY(training.eval_batches), "Validation batches per evaluation.")
      .with_default(std::int64_t{50})
      .at_least(1);
  table
      .integer(RUN_CONFIG_KEY(training.checkpoint_every),
               "Checkpoint every this many steps; 0 checkpoints only at the end.")
      .with_default(std::int64_t{500})
      .at_least(0);
  table.integer(RUN_CONFIG_KEY(training.log_every), "Log training metrics every this many steps.")
      .with_default(std::int64_t{10})
      .at_least(1);
  table
      .boolean(RUN_CONFIG_KEY(training.carry_state),
               "charlm: carry the recurrent state from one batch to the next (truncated BPTT) "
               "instead of starting each from zero.")
      .with_default(true)
      .only_when("task", kSequenceTasks);
  table
      .string(RUN_CONFIG_KEY(training.init_from),
              "A Hugging Face BertForMaskedLM directory (config.json, model.safetensors; a "
              "seqtrain checkpoint directory is one) to start from: its weights, a fresh "
              "optimizer and step 0. Resuming a run (--resume) ignores it.")
      .only_when("task", kMlmTask);
  table.schema().check_consistency();
  return table;
}

#undef RUN_CONFIG_KEY

const RunConfigTable& run_config_table() {
  static const RunConfigTable table = build_table();
  return table;
}

// Keys that another key overrides (data.phases overrides data.sequence_length)
// are ignored at their defaults, which resolved configs write back, and an
// error otherwise.
bool given_unlike_default(const ConfigValues& values, std::string_view path) {
  const ConfigKey* key = run_config_table().schema().find(path);
  SEQTRAIN_CHECK(key != nullptr && key->default_value, "config key '{}' has no default", path);
  if (!values.is_given(path)) return false;
  if (key->type == ConfigType::integer)
    return ConfigValue(values.integer(path)) != key->default_value;
  return ConfigValue(values.number(path)) != key->default_value;
}

void check_mlm_keys(const ConfigValues& values, const RunConfig& config) {
  const DataConfig& data = config.data;
  const BertModelConfig& bert = config.model.bert;
  if (!data.path)
    values.fail(
        "missing key 'data.path': required when task is mlm (the corpus to pretrain on, e.g. "
        "data/fortunes.txt)");
  if (bert.hidden_size % bert.heads != 0)
    values.fail_at(
        "model.bert.heads",
        fmt::format("must divide model.bert.hidden_size ({}) into equal heads", bert.hidden_size));
  else if (const auto head_dim = bert.hidden_size / bert.heads; !is_attention_head_dim(
               static_cast<int>(head_dim))) {
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
    for (const char* path : {"data.tokenizer.vocab_size", "data.tokenizer.character_coverage"})
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

// Checks that involve more than one key, or depend on the task.
void check_across_keys(const ConfigValues& values, const RunConfig& config) {
  const std::string_view task = task_name(config.task);
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
  // A decay needs a step after warmup to decay over (lr_schedule.h).
  if (training.schedule.decay == LrDecay::constant
          ? training.schedule.warmup_steps > training.steps
          : training.schedule.warmup_steps >= training.steps)
    values.fail_at(
        "training.schedule.warmup_steps",
        training.schedule.decay == LrDecay::constant
            ? fmt::format("must be <= training.steps ({})", training.steps)
            : fmt::format("must be < training.steps ({}) when decay is {}, which needs a step "
                          "after warmup; lower it or set training.schedule.decay: constant",
                          training.steps, lr_decay_name(training.schedule.decay)));
  if (training.schedule.decay != LrDecay::constant &&
      training.schedule.final_learning_rate > training.optimizer.learning_rate)
    values.fail_at("training.schedule.final_learning_rate",
                   fmt::format("must be <= training.optimizer.learning_rate ({}) when decay is {}",
                               format_config_value(training.optimizer.learning_rate),
                               lr_decay_name(training.schedule.decay)));
}

RunConfig run_config_from_values(const ConfigValues& values) {
  RunConfig config;
  for (const FieldBinding& binding : run_config_table().bindings()) binding.read(values, config);
  if (config.run_dir.empty()) config.run_dir = fmt::format("runs/{}", task_name(config.task));
  if (config.task == Task::mlm && !values.is_given("training.schedule.warmup_steps"))
    config.training.schedule.warmup_steps = config.training.steps / 100;
  check_across_keys(values, config);
  return config;
}

}  // namespace

std::string_view to_string(Vocabulary vocabulary) {
  return kVocabularyNames[static_cast<std::size_t>(vocabulary)];
}
std::string_view to_string(OptimizerName name) {
  return kOptimizerNames[static_cast<std::size_t>(name)];
}

std::vector<MlmPhaseConfig> mlm_phases(const RunConfig& config) {
  if (!config.data.phases.empty()) return config.data.phases;
  return {MlmPhaseConfig{1, config.data.sequence_length, config.data.batch_size}};
}

const ConfigSchema& run_config_schema() {
  return run_config_table().schema();
}

RunConfig run_config_from_yaml_text(std::string_view text, const std::string& source_name,
                                    const std::vector<std::string>& overrides) {
  return run_config_from_values(
      read_config_yaml(run_config_schema(), text, source_name, overrides));
}

RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides) {
  return run_config_from_yaml_text(read_config_file(path), path, overrides);
}

std::string resolved_yaml(const RunConfig& config) {
  std::map<std::string, ConfigValue, std::less<>> values;
  for (const FieldBinding& binding : run_config_table().bindings())
    if (auto value = binding.write(config)) values.emplace(binding.path, std::move(*value));
  return write_config_yaml(
      run_config_schema(), values,
      fmt::format("The complete configuration of this run (every key, defaults filled in),\n"
                  "written by seqtrain {}. Loading this file again gives the same run config.",
                  SEQTRAIN_VERSION));
}

std::string run_config_reference_markdown() {
  return schema_reference_markdown(run_config_schema());
}

}  // namespace seqtrain
