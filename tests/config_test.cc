// Run configuration: every kind of user mistake becomes one ConfigError line
// naming the key, the value and what is accepted; defaults and overrides land in
// the typed RunConfig; resolved_yaml reads back to the same config; and
// docs/configuration.md is the table generated from the schema.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/config_yaml.h"
#include "config/nearest_name.h"
#include "config/run_config.h"
#include "config/schema.h"
#include "seqtrain/error.h"

namespace seqtrain {
namespace {

// The ConfigError message that loading text (as "x.yaml") with overrides raises.
std::string config_error(const std::string& text, const std::vector<std::string>& overrides = {}) {
  try {
    run_config_from_yaml_text(text, "x.yaml", overrides);
  } catch (const ConfigError& error) {
    return error.what();
  }
  ADD_FAILURE() << "no ConfigError for:\n" << text;
  return {};
}

RunConfig load_text(const std::string& text, const std::vector<std::string>& overrides = {}) {
  return run_config_from_yaml_text(text, "x.yaml", overrides);
}

const std::string kCharlm = "task: charlm\ndata:\n  path: corpus.txt\n";
const std::string kMlm = "task: mlm\ndata:\n  path: corpus.txt\n";

TEST(EditDistance, CountsInsertionsDeletionsSubstitutionsAndTranspositions) {
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("lstn", "lstm"), 1u);
  EXPECT_EQ(edit_distance("lienar", "linear"), 1u);  // one transposition
  EXPECT_EQ(edit_distance("same", "same"), 0u);
}

TEST(NearestName, SuggestsOnlyPlausibleTypos) {
  const std::vector<std::string> names{"adamw", "sgd"};
  EXPECT_EQ(nearest_name("adam", names), "adamw");
  EXPECT_EQ(nearest_name("sdg", names), "sgd");
  EXPECT_EQ(nearest_name("rmsprop", names), std::nullopt);
}

TEST(ConfigSchema, ConsistencyCheckRejectsADefaultOutsideItsRange) {
  ConfigSchema schema;
  schema.add_integer("a.b", "doc").with_default(std::int64_t{0}).at_least(1);
  EXPECT_THROW(schema.check_consistency(), InternalError);
  ConfigSchema section_and_key;
  section_and_key.add_integer("a", "doc");
  section_and_key.add_integer("a.b", "doc");
  EXPECT_THROW(section_and_key.check_consistency(), InternalError);
  EXPECT_NO_THROW(run_config_schema().check_consistency());
}

TEST(RunConfigErrors, UnknownKeySuggestsTheNearestKey) {
  EXPECT_EQ(config_error(kCharlm + "training:\n  optimiser:\n    learning_rate: 0.1\n"),
            "x.yaml: unknown key 'training.optimiser' (did you mean 'training.optimizer'?)");
  EXPECT_EQ(config_error(kCharlm + "sed: 3\n"), "x.yaml: unknown key 'sed' (did you mean 'seed'?)");
}

TEST(RunConfigErrors, UnknownKeyInTheWrongSectionSuggestsWhereItBelongs) {
  EXPECT_EQ(config_error(kCharlm + "training:\n  learning_rate: 0.1\n"),
            "x.yaml: unknown key 'training.learning_rate' (did you mean "
            "'training.optimizer.learning_rate'?)");
}

TEST(RunConfigErrors, UnknownKeyWithNothingNearListsTheSectionsKeys) {
  EXPECT_EQ(config_error(kCharlm + "model:\n  size: 3\n"),
            "x.yaml: unknown key 'model.size' ('model' accepts type, cell, impl, hidden_size, layers, "
            "bidirectional, embedding_size, dropout, heads, intermediate_size, bert)");
}

TEST(RunConfigErrors, OutOfRangeValuesNameKeyValueAndBound) {
  EXPECT_EQ(config_error(kCharlm + "training:\n  optimizer:\n    learning_rate: -1\n"),
            "x.yaml: training.optimizer.learning_rate = -1: must be > 0");
  EXPECT_EQ(config_error(kCharlm + "model:\n  dropout: 1\n"),
            "x.yaml: model.dropout = 1: must be in [0, 1)");
  EXPECT_EQ(config_error(kCharlm + "  validation_fraction: 0\n"),
            "x.yaml: data.validation_fraction = 0: must be in (0, 0.5]");
  EXPECT_EQ(config_error(kCharlm + "seed: -5\n"), "x.yaml: seed = -5: must be >= 0");
  EXPECT_EQ(config_error(kCharlm + "training:\n  steps: 0\n"),
            "x.yaml: training.steps = 0: must be >= 1");
}

TEST(RunConfigErrors, UnknownChoiceListsTheChoicesAndSuggestsTheNearest) {
  EXPECT_EQ(config_error(kCharlm + "model:\n  cell: lstn\n"),
            "x.yaml: model.cell = 'lstn': expected one of lstm, gru, rnn (did you mean 'lstm'?)");
  EXPECT_EQ(config_error(kCharlm + "training:\n  optimizer:\n    name: rmsprop\n"),
            "x.yaml: training.optimizer.name = 'rmsprop': expected one of adamw, sgd");
  EXPECT_EQ(config_error("task: charml\n"),
            "x.yaml: task = 'charml': expected one of charlm, adding, classification, mlm (did "
            "you mean 'charlm'?)");
}

TEST(RunConfigErrors, WrongTypesSayWhatWasExpected) {
  EXPECT_EQ(config_error(kCharlm + "model:\n  hidden_size: {a: 1}\n"),
            "x.yaml: model.hidden_size = {a: 1}: expected an integer >= 1, not a map");
  EXPECT_EQ(config_error(kCharlm + "training:\n  optimizer:\n    learning_rate: fast\n"),
            "x.yaml: training.optimizer.learning_rate = fast: expected a number > 0");
  EXPECT_EQ(config_error(kCharlm + "training:\n  steps: 1.5\n"),
            "x.yaml: training.steps = 1.5: expected an integer >= 1");
  EXPECT_EQ(config_error(kCharlm + "training:\n  steps: \"100\"\n"),
            "x.yaml: training.steps = '100': expected an integer >= 1 (remove the quotes)");
  EXPECT_EQ(config_error(kCharlm + "model:\n  bidirectional: yes\n"),
            "x.yaml: model.bidirectional = yes: expected true or false");
  EXPECT_EQ(config_error(kCharlm + "model: 3\n"),
            "x.yaml: model = 3: expected a section with keys type, cell, impl, hidden_size, layers, "
            "bidirectional, embedding_size, dropout, heads, intermediate_size, bert");
  EXPECT_EQ(config_error(kCharlm + "training:\n  steps:\n"),
            "x.yaml: training.steps = null: expected an integer >= 1 (leave the key out for the "
            "default, 1000)");
  EXPECT_EQ(config_error("task: charlm\ndata:\n  path: ''\n"),
            "x.yaml: data.path = '': expected a non-empty string");
  EXPECT_EQ(config_error("- task\n- charlm\n"),
            "x.yaml: expected a map of keys (task, seed, threads, run_dir, model, data, training, "
            "distributed) "
            "at the top level, found [task, charlm]");
}

TEST(RunConfigErrors, ListsMustHaveTheRightLengthAndElements) {
  const std::string optimizer = kCharlm + "training:\n  optimizer:\n    betas: ";
  EXPECT_EQ(config_error(optimizer + "[0.9]\n"),
            "x.yaml: training.optimizer.betas = [0.9]: expected a list of 2 numbers, each in "
            "[0, 1), not 1 element");
  EXPECT_EQ(config_error(optimizer + "[0.9, 1.5]\n"),
            "x.yaml: training.optimizer.betas = [0.9, 1.5]: each element must be in [0, 1); "
            "element 2 is 1.5");
  EXPECT_EQ(config_error(optimizer + "[0.9, x]\n"),
            "x.yaml: training.optimizer.betas = [0.9, x]: expected a list of 2 numbers, each in "
            "[0, 1); element 2 (x) is not a number");
  EXPECT_EQ(config_error(optimizer + "0.9\n"),
            "x.yaml: training.optimizer.betas = 0.9: expected a list of 2 numbers, each in "
            "[0, 1), not a single value");
}

TEST(RunConfigErrors, MissingRequiredKeysAndDuplicateKeys) {
  EXPECT_EQ(config_error("seed: 3\n"),
            "x.yaml: missing required key 'task': expected one of charlm, adding, classification, "
            "mlm");
  EXPECT_EQ(config_error(""),
            "x.yaml: missing required key 'task': expected one of charlm, adding, classification, "
            "mlm");
  EXPECT_EQ(config_error(kCharlm + "seed: 1\nseed: 2\n"), "x.yaml: duplicate key 'seed'");
  // The same key spelt nested and dotted is still one key given twice.
  EXPECT_EQ(config_error(kCharlm + "training:\n  steps: 5\ntraining.steps: 6\n"),
            "x.yaml: duplicate key 'training.steps'");
}

TEST(RunConfigErrors, InvalidYamlNamesLineAndColumn) {
  const std::string message = config_error("task: adding\nmodel:\n  layers: [1, 2\n");
  EXPECT_TRUE(message.starts_with("x.yaml: not valid YAML at line 4, column 1: ")) << message;
  EXPECT_EQ(config_error("task: adding\n seed: 2\n"),
            "x.yaml: not valid YAML at line 2, column 6: illegal map value");
  EXPECT_EQ(config_error("task: adding\n---\nseed: 2\n"),
            "x.yaml: holds 2 YAML documents; expected one");
}

// Found by fuzz/run_config_fuzzer: text that starts with ',' made yaml-cpp
// 0.7 read empty documents at the same place forever (YAML::LoadAll never
// returned and allocated until memory ran out), and as a --set value it read
// as null, silently unsetting the key (src/config/yaml_documents.h).
TEST(RunConfigErrors, TextYamlCppWouldReadForeverIsInvalidYaml) {
  EXPECT_EQ(config_error(", a\n"),
            "x.yaml: not valid YAML at line 1, column 1: no YAML value can start here");
  EXPECT_EQ(config_error("# the fuzzer's input, shortened\n, schedule: {dec\n"),
            "x.yaml: not valid YAML at line 2, column 1: no YAML value can start here");
  EXPECT_EQ(config_error(kCharlm, {"run_dir=, runs/x"}),
            "--set run_dir=, runs/x: the value is not valid YAML: no YAML value can start here");
  // Neither check stops what is valid: empty documents, a null value.
  EXPECT_EQ(config_error("---\n---\n"), "x.yaml: holds 2 YAML documents; expected one");
  EXPECT_FALSE(load_text(kCharlm + "training: {init_from: null}\n").training.init_from);
}

// Found by fuzz/run_config_fuzzer: a path with a byte that is not UTF-8 was
// accepted, but the run's config.yaml (YAML holds only UTF-8) read back as
// another path, so a resumed run would have read other data.
TEST(RunConfigErrors, StringValuesMustBeUtf8SoTheResolvedConfigReadsBackTheSame) {
  EXPECT_EQ(config_error(kCharlm, {"run_dir=runs/x\xC6"}),
            "--set run_dir=runs/x\xC6: expected a non-empty string in UTF-8 (the run's "
            "config.yaml keeps only UTF-8 text)");
  const RunConfig config = load_text(kCharlm, {"run_dir=runs/\xC3\xA9t\xC3\xA9"});
  EXPECT_EQ(load_text(resolved_yaml(config)), config);
}

TEST(RunConfigErrors, MissingFileIsNamed) {
  const std::string path = ::testing::TempDir() + "/seqtrain_no_such_config.yaml";
  try {
    load_run_config(path, {});
    FAIL() << "no ConfigError";
  } catch (const ConfigError& error) {
    EXPECT_EQ(std::string(error.what()), path + ": missing file");
  }
}

TEST(RunConfigErrors, BadOverridesNameTheOverride) {
  EXPECT_EQ(config_error(kCharlm, {"training.steps=abc"}),
            "--set training.steps=abc: expected an integer >= 1");
  EXPECT_EQ(config_error(kCharlm, {"training.steps"}),
            "--set 'training.steps': expected key=value");
  EXPECT_EQ(config_error(kCharlm, {"=5"}), "--set '=5': expected key=value");
  EXPECT_EQ(
      config_error(kCharlm, {"training.stepz=5"}),
      "--set training.stepz=5: unknown key 'training.stepz' (did you mean 'training.steps'?)");
  EXPECT_EQ(
      config_error(kCharlm, {"training.optimiser.learning_rate=0.1"}),
      "--set training.optimiser.learning_rate=0.1: unknown key "
      "'training.optimiser.learning_rate' (did you mean 'training.optimizer.learning_rate'?)");
  EXPECT_EQ(config_error(kCharlm, {"training.optimizer={name: sdg}"}),
            "--set training.optimizer={name: sdg}: training.optimizer.name = 'sdg': expected one "
            "of adamw, sgd (did you mean 'sgd'?)");
  EXPECT_EQ(config_error(kCharlm, {"training.optimizer.betas=[0.9, 0.98"}).substr(0, 62),
            "--set training.optimizer.betas=[0.9, 0.98: the value is not va");
}

// model.type picks the model apart from the task; model.cell, its older name
// for the recurrent types, still works alone and must agree when both are given.
TEST(RunConfig, ModelTypeAndItsOlderNameCell) {
  auto load = [](const std::string& text, std::vector<std::string> overrides = {}) {
    return run_config_from_yaml_text(text, "x.yaml", overrides);
  };
  EXPECT_EQ(load(kCharlm).model.type, ModelType::lstm);
  const RunConfig by_cell = load(kCharlm + "model:\n  cell: gru\n");
  EXPECT_EQ(by_cell.model.type, ModelType::gru);
  EXPECT_EQ(by_cell.model.cell, RnnCell::gru);
  const RunConfig by_type = load(kCharlm + "model:\n  type: rnn\n");
  EXPECT_EQ(by_type.model.type, ModelType::rnn);
  EXPECT_EQ(by_type.model.cell, RnnCell::rnn_tanh);
  EXPECT_EQ(load(kCharlm, {"model.type=gru", "model.cell=gru"}).model.cell, RnnCell::gru);
  EXPECT_EQ(config_error(kCharlm, {"model.type=gru", "model.cell=lstm"}),
            "--set model.cell=lstm: is the older name of model.type, which says gru; give one of "
            "the two");
  EXPECT_EQ(config_error(kCharlm, {"model.type=bert"}),
            "--set model.type=bert: bert cannot serve task charlm: use lstm, gru, rnn or "
            "transformer");
  // A resolved config (every key written) reads back to the same model.
  EXPECT_EQ(load(resolved_yaml(by_type)).model, by_type.model);
  EXPECT_EQ(load(kMlm).model.type, ModelType::bert);
  EXPECT_EQ(config_error(kMlm, {"model.type=lstm"}),
            "--set model.type=lstm: lstm cannot serve task mlm: use bert");
}

// model.type transformer: its keys apply to it alone, its head size is one
// the attention op has; for charlm training.carry_state is false unless given,
// and true is an error (a transformer carries no state between batches).
TEST(RunConfig, TransformerKeysAndTheTasksItServes) {
  const RunConfig adding = load_text("task: adding\nmodel: {type: transformer, hidden_size: 64, "
                                     "heads: 2, intermediate_size: 100}\n");
  EXPECT_EQ(adding.model.type, ModelType::transformer);
  EXPECT_EQ(adding.model.heads, 2);
  EXPECT_EQ(adding.model.intermediate_size, 100);
  EXPECT_EQ(config_error("task: adding\nmodel: {type: transformer, hidden_size: 64, heads: 4}\n"),
            "x.yaml: model.heads = 4: model.hidden_size 64 / 4 heads must be a head dimension "
            "the attention op has (32, 64 or 128)");
  EXPECT_NE(config_error("task: adding\nmodel: {type: lstm, heads: 2}\n").find("model.heads"),
            std::string::npos);
  const RunConfig charlm = load_text(kCharlm, {"model.type=transformer", "model.hidden_size=64",
                                              "model.heads=2"});
  EXPECT_EQ(charlm.model.type, ModelType::transformer);
  EXPECT_FALSE(charlm.training.carry_state);
  EXPECT_EQ(config_error(kCharlm, {"model.type=transformer", "model.hidden_size=64",
                                   "model.heads=2", "training.carry_state=true"}),
            "--set training.carry_state=true: is for the recurrent types; a transformer carries "
            "no state from one batch to the next (it re-reads its whole window); remove it or "
            "set false");
  EXPECT_EQ(config_error("task: adding\nmodel: {type: bert}\n"),
            "x.yaml: model.type = 'bert': bert cannot serve task adding: use lstm, gru, rnn or "
            "transformer");
  EXPECT_NE(config_error("task: adding\nmodel: {type: transformer, hidden_size: 64, heads: 2, "
                         "bidirectional: true}\n")
                .find("model.bidirectional"),
            std::string::npos);
}

TEST(RunConfigErrors, CrossFieldChecksNameTheKeyThatBreaksThem) {
  EXPECT_EQ(config_error(kCharlm + "model:\n  bidirectional: true\n"),
            "x.yaml: model.bidirectional = true: must be false when task is charlm (a language "
            "model must not see the characters it predicts)");
  EXPECT_EQ(config_error("task: adding\nmodel:\n  impl: cudnn\n  bidirectional: true\n"),
            "x.yaml: model.impl = 'cudnn': cudnn runs forward-direction layers only; set "
            "model.bidirectional: false or model.impl: fused");
  EXPECT_EQ(config_error("task: charlm\n"),
            "x.yaml: missing key 'data.path': required when task is charlm (the text file to "
            "train on)");
  EXPECT_EQ(config_error("task: classification\n"),
            "x.yaml: missing key 'data.train_path': required when task is classification");
  EXPECT_EQ(config_error(kCharlm + "data:\n  train_path: a.txt\n"), "x.yaml: duplicate key 'data'");
  EXPECT_EQ(config_error("task: charlm\ndata:\n  path: a.txt\n  train_path: b.txt\n"),
            "x.yaml: data.train_path = 'b.txt': is for classification; charlm reads its text "
            "from data.path");
  EXPECT_EQ(config_error(kCharlm + "training:\n  schedule:\n    final_learning_rate: 0.01\n"),
            "x.yaml: training.schedule.final_learning_rate = 0.01: must be <= "
            "training.optimizer.learning_rate (0.001) when decay is cosine");
  // With constant decay the final learning rate is never used.
  EXPECT_NO_THROW(load_text(kCharlm + "training:\n  schedule:\n    decay: constant\n"
                                      "    final_learning_rate: 0.01\n"));
}

TEST(RunConfig, DefaultsFillEveryKeyNotGiven) {
  const RunConfig config = load_text("task: adding\n");
  EXPECT_EQ(config.task, Task::adding);
  EXPECT_EQ(config.seed, 1234);
  EXPECT_EQ(config.threads, 0);
  EXPECT_EQ(config.run_dir, "runs/adding");
  EXPECT_EQ(config.model.cell, RnnCell::lstm);
  EXPECT_EQ(config.model.impl, RnnImpl::fused);
  EXPECT_EQ(config.model.hidden_size, 256);
  EXPECT_EQ(config.model.layers, 1);
  EXPECT_FALSE(config.model.bidirectional);
  EXPECT_EQ(config.model.embedding_size, 64);
  EXPECT_EQ(config.model.dropout, 0.0);
  EXPECT_EQ(config.data.path, std::nullopt);
  EXPECT_EQ(config.data.vocabulary, Vocabulary::byte);
  EXPECT_EQ(config.data.validation_fraction, 0.05);
  EXPECT_EQ(config.data.train_path, std::nullopt);
  EXPECT_EQ(config.data.validation_path, std::nullopt);
  EXPECT_EQ(config.data.sequence_length, 128);
  EXPECT_EQ(config.data.batch_size, 32);
  EXPECT_EQ(config.data.validation_size, 1000);
  const TrainingConfig& training = config.training;
  EXPECT_EQ(training.steps, 1000);
  EXPECT_EQ(training.gradient_accumulation, 1);
  EXPECT_EQ(training.optimizer.name, OptimizerName::adamw);
  EXPECT_EQ(training.optimizer.learning_rate, 1e-3);
  EXPECT_EQ(training.optimizer.betas, (std::array<double, 2>{0.9, 0.999}));
  EXPECT_EQ(training.optimizer.epsilon, 1e-8);
  EXPECT_EQ(training.optimizer.weight_decay, 0.0);
  EXPECT_EQ(training.optimizer.momentum, 0.9);
  EXPECT_EQ(training.schedule.warmup_steps, 0);
  EXPECT_EQ(training.schedule.decay, LrDecay::cosine);
  EXPECT_EQ(training.schedule.final_learning_rate, 0.0);
  EXPECT_EQ(training.clip_norm, 1.0);
  EXPECT_EQ(training.eval_every, 200);
  EXPECT_EQ(training.eval_batches, 50);
  EXPECT_EQ(training.checkpoint_every, 500);
  EXPECT_EQ(training.log_every, 10);
  EXPECT_TRUE(training.carry_state);
}

TEST(RunConfig, FileValuesAndOverridesLandInTheTypedConfig) {
  const RunConfig config = load_text(
      "task: charlm\n"
      "run_dir: out/x\n"
      "model: {cell: gru, layers: 2}\n"
      "data:\n  path: text.txt\n  vocabulary: char\n"
      "training.steps: 500\n"  // a dotted key at the top level is the same key
      "training:\n  optimizer:\n    learning_rate: 3.0e-3\n",
      {"training.steps=700", "training.optimizer.betas=[0.9,0.98]", "model.cell=rnn",
       "model.cell=lstm", "training.schedule={decay: linear, warmup_steps: 10}",
       "training.carry_state=false", "model.dropout=0.25", "model.impl=cudnn"});
  EXPECT_EQ(config.run_dir, "out/x");
  EXPECT_EQ(config.model.impl, RnnImpl::cudnn);
  EXPECT_EQ(config.model.cell, RnnCell::lstm);  // the last override wins
  EXPECT_EQ(config.model.layers, 2);
  EXPECT_EQ(config.model.dropout, 0.25);
  EXPECT_EQ(config.data.path, "text.txt");
  EXPECT_EQ(config.data.vocabulary, Vocabulary::character);
  EXPECT_EQ(config.training.steps, 700);
  EXPECT_EQ(config.training.optimizer.learning_rate, 3e-3);
  EXPECT_EQ(config.training.optimizer.betas, (std::array<double, 2>{0.9, 0.98}));
  EXPECT_EQ(config.training.schedule.decay, LrDecay::linear);
  EXPECT_EQ(config.training.schedule.warmup_steps, 10);
  EXPECT_FALSE(config.training.carry_state);
}

TEST(RunConfig, NullUnsetsAnOptionalKey) {
  const RunConfig config =
      load_text("task: classification\ndata:\n  train_path: t.tsv\n  validation_path: v.tsv\n",
                {"data.validation_path=null"});
  EXPECT_EQ(config.data.train_path, "t.tsv");
  EXPECT_EQ(config.data.validation_path, std::nullopt);
}

TEST(RunConfig, ResolvedYamlLoadsBackToTheSameConfig) {
  const std::vector<RunConfig> configs{
      load_text("task: adding\n"),
      load_text(kCharlm,
                {"seed=7", "threads=2", "run_dir=null", "model.cell=gru", "model.impl=cudnn",
                 "model.hidden_size=33",
                 "model.dropout=0.1", "data.vocabulary=char", "data.validation_fraction=0.3",
                 "training.optimizer.name=sgd", "training.optimizer.learning_rate=0.1",
                 "training.optimizer.betas=[0.1, 0.2]", "training.optimizer.epsilon=1e-7",
                 "training.optimizer.momentum=0.123456789", "training.clip_norm=0",
                 "training.schedule={warmup_steps: 3, decay: linear, final_learning_rate: 1e-5}",
                 "training.carry_state=false"}),
      // Strings YAML would otherwise read as null, booleans or numbers.
      load_text("task: classification\nrun_dir: 'null'\ndata:\n  train_path: 'true'\n"
                "  validation_path: '123'\nmodel: {bidirectional: true}\n"),
  };
  for (const RunConfig& config : configs) {
    const std::string yaml = resolved_yaml(config);
    EXPECT_EQ(load_text(yaml), config) << yaml;
  }
}

// Whether the YAML tree holds the dotted path.
bool yaml_has_path(const YAML::Node& root, const std::string& dotted) {
  YAML::Node node = YAML::Clone(root);
  std::stringstream path(dotted);
  for (std::string name; std::getline(path, name, '.');) {
    if (!node.IsMap() || !node[name]) return false;
    node = node[name];
  }
  return true;
}

TEST(RunConfig, ResolvedYamlWritesEveryKeyOfItsTaskAndNoOther) {
  // Read with yaml-cpp directly, not with our reader, so a missing key cannot hide.
  const YAML::Node root = YAML::Load(resolved_yaml(load_text(kCharlm)));
  const YAML::Node mlm = YAML::Load(resolved_yaml(load_text(kMlm)));
  const YAML::Node transformer = YAML::Load(resolved_yaml(
      load_text("task: adding\nmodel: {type: transformer, hidden_size: 64, heads: 2}\n")));
  // Whether a key applies to a task and model type: every condition holds.
  auto applies = [](const ConfigKey& key, const std::string& task, const std::string& type) {
    for (const ConfigCondition& condition : key.applies_when) {
      const std::string& value = condition.path == "task" ? task : type;
      if (std::find(condition.values.begin(), condition.values.end(), value) ==
          condition.values.end())
        return false;
    }
    return true;
  };
  std::size_t charlm_keys = 0, mlm_keys = 0;
  for (const ConfigKey& key : run_config_schema().keys()) {
    EXPECT_EQ(yaml_has_path(root, key.path), applies(key, "charlm", "lstm")) << key.path;
    EXPECT_EQ(yaml_has_path(mlm, key.path), applies(key, "mlm", "bert")) << key.path;
    EXPECT_EQ(yaml_has_path(transformer, key.path), applies(key, "adding", "transformer"))
        << key.path;
    charlm_keys += applies(key, "charlm", "lstm");
    mlm_keys += applies(key, "mlm", "bert");
  }
  EXPECT_TRUE(transformer["model"]["heads"]);
  EXPECT_FALSE(root["model"]["heads"]);
  EXPECT_GT(charlm_keys, 20u);
  EXPECT_GT(mlm_keys, 20u);
  EXPECT_EQ(root["training"]["optimizer"]["epsilon"].Scalar(), "1.0e-08");
  EXPECT_EQ(root["data"]["path"].Scalar(), "corpus.txt");
  EXPECT_TRUE(root["data"]["train_path"].IsNull());
  EXPECT_FALSE(root["model"]["bert"]);
  EXPECT_FALSE(mlm["model"]["cell"]);
  EXPECT_EQ(mlm["model"]["bert"]["layers"].Scalar(), "2");
}

TEST(RunConfig, ShippedConfigsLoad) {
  std::vector<std::string> missing;
  for (const char* name :
       {"lstm_adding.yaml", "lstm_charlm.yaml", "lstm_classification.yaml",
        "transformer_adding.yaml", "bert_tiny.yaml",
        "bert_mini.yaml", "bert_small.yaml", "bert_base.yaml"}) {
    const std::string path = std::string(SEQTRAIN_SOURCE_DIR) + "/configs/" + name;
    if (!std::filesystem::exists(path)) {
      missing.push_back(path);
      continue;
    }
    EXPECT_NO_THROW(load_run_config(path, {})) << path;
  }
  if (!missing.empty()) GTEST_SKIP() << missing.front() << " does not exist yet";
}

TEST(MlmConfig, DefaultsAreBertsRecipe) {
  const RunConfig config = load_text(kMlm);
  EXPECT_EQ(config.task, Task::mlm);
  EXPECT_EQ(config.run_dir, "runs/mlm");
  const TrainingConfig& training = config.training;
  EXPECT_EQ(training.optimizer.name, OptimizerName::adamw);
  EXPECT_EQ(training.optimizer.learning_rate, 1e-4);
  EXPECT_EQ(training.optimizer.betas, (std::array<double, 2>{0.9, 0.999}));
  EXPECT_EQ(training.optimizer.epsilon, 1e-6);
  EXPECT_EQ(training.optimizer.weight_decay, 0.01);
  EXPECT_EQ(training.schedule.decay, LrDecay::linear);
  EXPECT_EQ(training.schedule.warmup_steps, 10);  // 1% of the default 1000 steps
  EXPECT_EQ(training.clip_norm, 1.0);
  EXPECT_EQ(training.init_from, std::nullopt);
  const BertModelConfig& bert = config.model.bert;
  EXPECT_EQ(bert.hidden_size, 128);
  EXPECT_EQ(bert.layers, 2);
  EXPECT_EQ(bert.heads, 2);
  EXPECT_EQ(bert.intermediate_size, 512);
  EXPECT_EQ(bert.max_positions, 512);
  EXPECT_FALSE(bert.pre_layernorm);
  EXPECT_EQ(bert.hidden_dropout, 0.1);
  EXPECT_EQ(bert.attention_dropout, 0.1);
  EXPECT_EQ(config.data.path, "corpus.txt");
  EXPECT_EQ(config.data.cache_dir, std::nullopt);
  EXPECT_EQ(config.data.tokenizer.path, std::nullopt);
  EXPECT_EQ(config.data.tokenizer.vocab_size, 8000);
  EXPECT_EQ(config.data.masking.mask_rate, 0.15);
  EXPECT_EQ(config.data.masking.replace_with_mask, 0.8);
  EXPECT_EQ(config.data.masking.replace_with_random, 0.1);
  EXPECT_TRUE(config.data.phases.empty());
  EXPECT_EQ(mlm_phases(config), (std::vector<MlmPhaseConfig>{{1, 128, 32}}));
  // The mlm defaults leave the other tasks' defaults alone.
  EXPECT_EQ(load_text(kCharlm).training.optimizer.learning_rate, 1e-3);
  EXPECT_EQ(load_text(kCharlm).training.schedule.warmup_steps, 0);
}

TEST(MlmConfig, GivenValuesOverrideTheMlmDefaults) {
  const RunConfig config = load_text(
      kMlm +
          "training:\n  steps: 500\n  optimizer: {learning_rate: 3.0e-4, epsilon: 1.0e-8}\n"
          "  schedule: {decay: cosine, warmup_steps: 0}\n",
      {"training.optimizer.weight_decay=0", "model.bert={layers: 4, heads: 4, hidden_size: 256}"});
  EXPECT_EQ(config.training.optimizer.learning_rate, 3e-4);
  EXPECT_EQ(config.training.optimizer.epsilon, 1e-8);
  EXPECT_EQ(config.training.optimizer.weight_decay, 0.0);
  EXPECT_EQ(config.training.schedule.decay, LrDecay::cosine);
  EXPECT_EQ(config.training.schedule.warmup_steps, 0);
  EXPECT_EQ(config.model.bert.layers, 4);
  EXPECT_EQ(config.model.bert.hidden_size, 256);
  EXPECT_EQ(load_text(kMlm, {"training.steps=250"}).training.schedule.warmup_steps, 2);
}

TEST(MlmConfig, PhasesReadFromTheFileAndFromOverrides) {
  const RunConfig config =
      load_text(kMlm +
                "  phases:\n    - {steps: 90, sequence_length: 128, batch_size: 32}\n"
                "    - {steps: 10, sequence_length: 512, batch_size: 8}\n"
                "training: {steps: 100}\n");
  EXPECT_EQ(config.data.phases, (std::vector<MlmPhaseConfig>{{90, 128, 32}, {10, 512, 8}}));
  EXPECT_EQ(mlm_phases(config), config.data.phases);
  const RunConfig overridden =
      load_text(kMlm, {"data.phases=[{steps: 5, sequence_length: 16, batch_size: 2}]"});
  EXPECT_EQ(overridden.data.phases, (std::vector<MlmPhaseConfig>{{5, 16, 2}}));
  // Without phases, data.sequence_length and data.batch_size make the one phase.
  EXPECT_EQ(mlm_phases(load_text(kMlm + "  sequence_length: 64\n  batch_size: 4\n")),
            (std::vector<MlmPhaseConfig>{{1, 64, 4}}));
}

TEST(MlmConfig, BadPhasesAreOneLineErrors) {
  const std::string phases = kMlm + "  phases: ";
  EXPECT_EQ(config_error(phases + "3\n"),
            "x.yaml: data.phases = 3: expected a non-empty list of {steps: an integer >= 1, "
            "sequence_length: an integer >= 3, batch_size: an integer >= 1}, not a single value");
  EXPECT_EQ(config_error(phases + "[]\n").substr(0, 60),
            "x.yaml: data.phases = []: expected a non-empty list of {step");
  EXPECT_EQ(config_error(phases + "[{steps: 5, sequence_lenght: 16, batch_size: 2}]\n"),
            "x.yaml: data.phases = [{steps: 5, sequence_lenght: 16, batch_size: 2}]: element 1 "
            "has unknown field 'sequence_lenght' (did you mean 'sequence_length'?)");
  EXPECT_EQ(config_error(phases + "[{steps: 5, sequence_length: 16}]\n"),
            "x.yaml: data.phases = [{steps: 5, sequence_length: 16}]: element 1 has no field "
            "'batch_size' (sequences per batch)");
  EXPECT_EQ(config_error(phases + "[{steps: 5, sequence_length: 2, batch_size: 2}]\n"),
            "x.yaml: data.phases = [{steps: 5, sequence_length: 2, batch_size: 2}]: element 1: "
            "sequence_length must be >= 3");
  EXPECT_EQ(config_error(phases + "[{steps: 5, sequence_length: 16, batch_size: x}]\n"),
            "x.yaml: data.phases = [{steps: 5, sequence_length: 16, batch_size: x}]: element 1: "
            "batch_size is x, expected an integer >= 1");
  EXPECT_EQ(config_error(phases + "[7]\n").substr(0, 40),
            "x.yaml: data.phases = [7]: expected a no");
  // A phase that starts after the last step is allowed (a trial run of a long config).
  EXPECT_NO_THROW(load_text(kMlm +
                            "  phases:\n    - {steps: 10, sequence_length: 16, batch_size: 2}\n"
                            "    - {steps: 5, sequence_length: 32, batch_size: 2}\n"
                            "training: {steps: 10}\n"));
  EXPECT_EQ(config_error(kMlm + "  phases: [{steps: 5, sequence_length: 600, batch_size: 2}]\n"),
            "x.yaml: data.phases = [{steps: 5, sequence_length: 600, batch_size: 2}]: sequence "
            "length 600 of phase 1 exceeds model.bert.max_positions (512)");
  EXPECT_EQ(config_error(kMlm + "  sequence_length: 600\n"),
            "x.yaml: data.sequence_length = 600: sequence length 600 exceeds "
            "model.bert.max_positions (512)");
  EXPECT_EQ(config_error(kMlm + "  batch_size: 8\n  phases: [{steps: 5, sequence_length: 16, "
                                "batch_size: 2}]\n"),
            "x.yaml: data.batch_size = 8: is set by data.phases when task is mlm; give each "
            "phase its sequence_length and batch_size there instead");
}

TEST(MlmConfig, KeysOfAnotherTaskAreErrors) {
  EXPECT_EQ(config_error(kCharlm + "model:\n  bert: {layers: 4}\n"),
            "x.yaml: model.bert.layers = 4: applies only when task is mlm (task is charlm here); "
            "remove it");
  EXPECT_EQ(config_error(kCharlm + "training:\n  keep_best: mlm_loss\n"),
            "x.yaml: training.keep_best = 'mlm_loss': task charlm validates loss, bits_per_char, "
            "accuracy; name one of them");
  EXPECT_EQ(config_error(kMlm + "model:\n  hidden_size: 64\n"),
            "x.yaml: model.hidden_size = 64: applies only when task is charlm, adding or "
            "classification (task is mlm here); remove it");
  EXPECT_EQ(config_error(kMlm + "  vocabulary: char\n"),
            "x.yaml: data.vocabulary = 'char': applies only when task is charlm, adding or "
            "classification (task is mlm here); remove it");
  EXPECT_EQ(config_error(kMlm + "model:\n  bert: {layrs: 4}\n"),
            "x.yaml: unknown key 'model.bert.layrs' (did you mean 'model.bert.layers'?)");
}

TEST(MlmConfig, CrossFieldChecksNameTheKey) {
  EXPECT_EQ(config_error("task: mlm\n"),
            "x.yaml: missing key 'data.path': required when task is mlm (the corpus to pretrain "
            "on, e.g. data/fortunes.txt), unless data.shards names data made by `seqtrain data "
            "prepare`");
  EXPECT_EQ(config_error(kMlm + "  shards: prepared\n"),
            "x.yaml: data.shards = 'prepared': names prepared data, but data.path names a corpus "
            "to prepare; remove one of the two");
  EXPECT_EQ(config_error("task: mlm\ndata:\n  shards: prepared\n  validation_fraction: 0.2\n"),
            "x.yaml: data.validation_fraction = 0.2: shapes the data a run prepares, but "
            "data.shards names data already prepared (with `seqtrain data prepare`); remove it");
  EXPECT_EQ(config_error("task: mlm\ndata:\n  shards: prepared\n  tokenizer: {sample_mb: 5}\n"),
            "x.yaml: data.tokenizer.sample_mb = 5: shapes the data a run prepares, but "
            "data.shards names data already prepared (with `seqtrain data prepare`); remove it");
  EXPECT_EQ(config_error("task: mlm\ndata:\n  shards: prepared\n  cache_dir: c\n"),
            "x.yaml: data.cache_dir = 'c': is where a run prepares its data, but data.shards "
            "names data already prepared; remove it");
  EXPECT_EQ(load_text("task: mlm\ndata:\n  shards: prepared\n").data.shards, "prepared");
  EXPECT_EQ(config_error(kMlm + "model:\n  bert: {hidden_size: 100, heads: 3}\n"),
            "x.yaml: model.bert.heads = 3: must divide model.bert.hidden_size (100) into equal "
            "heads");
  EXPECT_EQ(config_error(kMlm + "model:\n  bert: {hidden_size: 96, heads: 2}\n"),
            "x.yaml: model.bert.heads = 2: gives heads of 96 / 2 = 48 dimensions; the attention "
            "op supports 32, 64 or 128 (e.g. heads: 3)");
  EXPECT_EQ(config_error(kMlm + "  sequence_length: 2\n"),
            "x.yaml: data.sequence_length = 2: sequence length 2 is too short; a sequence holds "
            "[CLS], at least one token and [SEP], so at least 3");
  EXPECT_EQ(config_error(kMlm + "  tokenizer: {path: tok, vocab_size: 300}\n"),
            "x.yaml: data.tokenizer.vocab_size = 300: trains a tokenizer, but "
            "data.tokenizer.path names one to use; remove one of the two");
  EXPECT_EQ(config_error(kMlm + "  masking: {replace_with_mask: 0.8, replace_with_random: 0.3}\n"),
            "x.yaml: data.masking.replace_with_random = 0.3: plus data.masking.replace_with_mask "
            "(0.8) must be <= 1");
  EXPECT_EQ(config_error(kMlm + "model:\n  bert: {pre_layernorm: true}\ntraining:\n"
                                "  init_from: runs/x/checkpoints/step_5\n"),
            "x.yaml: training.init_from = 'runs/x/checkpoints/step_5': starts from Hugging Face "
            "BERT weights, which are post-LN; set model.bert.pre_layernorm to false");
  EXPECT_EQ(config_error(kMlm + "  masking: {mask_rate: 0}\n"),
            "x.yaml: data.masking.mask_rate = 0: must be in (0, 1]");
}

TEST(MlmConfig, ResolvedYamlLoadsBackToTheSameConfig) {
  const std::vector<RunConfig> configs{
      load_text(kMlm),
      load_text("task: mlm\ndata:\n  shards: prepared\n"),
      load_text(kMlm + "  cache_dir: cache\n  tokenizer: {path: tok}\n"
                       "  phases:\n    - {steps: 9, sequence_length: 128, batch_size: 32}\n"
                       "    - {steps: 1, sequence_length: 512, batch_size: 8}\n"
                       "model:\n  bert: {hidden_size: 96, heads: 3, pre_layernorm: true, "
                       "attention_dropout: 0.0}\n",
                {"training.steps=10", "data.masking={mask_rate: 0.2}"}),
      load_text(kMlm + "training: {init_from: 'null'}\n"),
  };
  for (const RunConfig& config : configs) {
    const std::string yaml = resolved_yaml(config);
    EXPECT_EQ(load_text(yaml), config) << yaml;
  }
}

TEST(ConfigSchema, ConditionsMustNameAnEarlierChoiceAndItsValues) {
  ConfigSchema schema;
  schema.add_choice("kind", {"a", "b"}, "doc").required();
  schema.add_integer("x", "doc").with_default(std::int64_t{1}).only_when("kind", {"a"});
  EXPECT_NO_THROW(schema.check_consistency());
  schema.add_integer("y", "doc").with_default(std::int64_t{1}).only_when("kind", {"c"});
  EXPECT_THROW(schema.check_consistency(), InternalError);
  ConfigSchema later;
  later.add_integer("x", "doc").with_default_when("kind", "a", std::int64_t{2});
  later.add_choice("kind", {"a", "b"}, "doc").required();
  EXPECT_THROW(later.check_consistency(), InternalError);
}

// A schema with a key that depends on two conditions at once (task and model
// type), the way a key of one model type for some tasks does, and a default
// that does the same.
ConfigSchema two_condition_schema() {
  ConfigSchema schema;
  schema.add_choice("task", {"a", "b", "c"}, "The task.").required();
  schema.add_choice("model.type", {"x", "y"}, "The model.").with_default(std::string("x"));
  schema.add_integer("model.size", "Size of an x model.")
      .with_default(std::int64_t{4})
      .at_least(1)
      .only_when("task", {"a", "b"})
      .only_when("model.type", {"x"});
  schema.add_integer("model.depth", "Depth.")
      .with_default(std::int64_t{1})
      .with_default_when({{"task", {"c"}}, {"model.type", {"y"}}}, std::int64_t{3});
  schema.check_consistency();
  return schema;
}

ConfigValues read_two_condition_yaml(const std::string& text) {
  return read_config_yaml(two_condition_schema(), text, "x.yaml", {});
}

std::string two_condition_error(const std::string& text) {
  try {
    read_two_condition_yaml(text);
  } catch (const ConfigError& error) {
    return error.what();
  }
  ADD_FAILURE() << "no ConfigError for:\n" << text;
  return {};
}

TEST(ConfigSchema, AKeyWithTwoConditionsAppliesOnlyWhenBothHold) {
  const ConfigSchema schema = two_condition_schema();
  const ConfigKey& size = *schema.find("model.size");
  EXPECT_EQ(read_two_condition_yaml("task: b\nmodel: {size: 7}\n").integer("model.size"), 7);
  EXPECT_TRUE(schema.applies(size, read_two_condition_yaml("task: a\n").set_values()));
  EXPECT_FALSE(schema.applies(size, read_two_condition_yaml("task: c\n").set_values()));
  EXPECT_FALSE(
      schema.applies(size, read_two_condition_yaml("task: a\nmodel: {type: y}\n").set_values()));
  EXPECT_FALSE(
      schema.applies(size, read_two_condition_yaml("task: c\nmodel: {type: y}\n").set_values()));
}

TEST(ConfigSchema, AKeyGivenWhereItsConditionsFailNamesEachConditionThatFails) {
  EXPECT_EQ(two_condition_error("task: c\nmodel: {size: 7}\n"),
            "x.yaml: model.size = 7: applies only when task is a or b, and model.type is x "
            "(task is c here); remove it");
  EXPECT_EQ(two_condition_error("task: a\nmodel: {type: y, size: 7}\n"),
            "x.yaml: model.size = 7: applies only when task is a or b, and model.type is x "
            "(model.type is y here); remove it");
  EXPECT_EQ(two_condition_error("task: c\nmodel: {type: y, size: 7}\n"),
            "x.yaml: model.size = 7: applies only when task is a or b, and model.type is x "
            "(task is c and model.type is y here); remove it");
}

TEST(ConfigSchema, WrittenYamlHoldsAKeyWithTwoConditionsOnlyWhenBothHold) {
  const ConfigSchema schema = two_condition_schema();
  const auto written = [&](const std::string& text) {
    return write_config_yaml(schema, read_two_condition_yaml(text).set_values(), "header");
  };
  EXPECT_NE(written("task: a\n").find("size: 4"), std::string::npos);
  EXPECT_EQ(written("task: a\nmodel: {type: y}\n").find("size:"), std::string::npos);
  EXPECT_EQ(written("task: c\n").find("size:"), std::string::npos);
}

TEST(ConfigSchema, ADefaultWithTwoConditionsHoldsOnlyWhenBothDo) {
  EXPECT_EQ(read_two_condition_yaml("task: c\nmodel: {type: y}\n").integer("model.depth"), 3);
  EXPECT_EQ(read_two_condition_yaml("task: c\n").integer("model.depth"), 1);
  EXPECT_EQ(read_two_condition_yaml("task: a\nmodel: {type: y}\n").integer("model.depth"), 1);
}

TEST(ConfigSchema, ReferenceNamesEveryConditionOfAKey) {
  const std::string markdown = schema_reference_markdown(two_condition_schema());
  EXPECT_NE(markdown.find("| `model.size` | an integer >= 1 | `4` | *Only when task is a or b, "
                          "and model.type is x.* Size of an x model. |"),
            std::string::npos)
      << markdown;
  EXPECT_NE(markdown.find("| `model.depth` | an integer | `1`; when task is c, and model.type is "
                          "y: `3` | Depth. |"),
            std::string::npos)
      << markdown;
}

TEST(ConfigSchema, ConsistencyCheckRejectsTwoConditionsOnOneKeyOrOnALaterKey) {
  ConfigSchema twice;
  twice.add_choice("task", {"a", "b"}, "doc").required();
  twice.add_integer("x", "doc").only_when("task", {"a"}).only_when("task", {"b"});
  EXPECT_THROW(twice.check_consistency(), InternalError);
  ConfigSchema later;
  later.add_choice("task", {"a", "b"}, "doc").required();
  later.add_integer("x", "doc").only_when("task", {"a"}).only_when("model.type", {"x"});
  later.add_choice("model.type", {"x", "y"}, "doc").required();
  EXPECT_THROW(later.check_consistency(), InternalError);
}

// docs/configuration.md holds the generated key reference between two markers.
// SEQTRAIN_UPDATE_DOCS=1 rewrites it from the schema instead of comparing.
TEST(RunConfigDocs, ConfigurationReferenceMatchesTheSchema) {
  const std::string path = std::string(SEQTRAIN_SOURCE_DIR) + "/docs/configuration.md";
  const std::string begin =
      "<!-- BEGIN KEY REFERENCE (generated from src/config/run_config_keys.cc) -->\n";
  const std::string end = "<!-- END KEY REFERENCE -->\n";
  std::ifstream file(path);
  ASSERT_TRUE(file) << path;
  std::stringstream text;
  text << file.rdbuf();
  std::string document = text.str();
  const std::size_t start = document.find(begin);
  const std::size_t stop = document.find(end);
  ASSERT_NE(start, std::string::npos) << path << " lacks the line " << begin;
  ASSERT_NE(stop, std::string::npos) << path << " lacks the line " << end;
  const std::size_t content = start + begin.size();
  const std::string expected = "\n" + run_config_reference_markdown() + "\n";
  const char* update = std::getenv("SEQTRAIN_UPDATE_DOCS");
  if (update != nullptr && std::string(update) == "1") {
    document.replace(content, stop - content, expected);
    std::ofstream(path) << document;
    return;
  }
  EXPECT_EQ(document.substr(content, stop - content), expected)
      << path << " is out of date: run the test with SEQTRAIN_UPDATE_DOCS=1 to regenerate it";
}

}  // namespace
}  // namespace seqtrain
