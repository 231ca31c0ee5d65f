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
            "x.yaml: unknown key 'model.size' ('model' accepts cell, hidden_size, layers, "
            "bidirectional, embedding_size, dropout)");
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
            "x.yaml: task = 'charml': expected one of charlm, adding, classification (did you "
            "mean 'charlm'?)");
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
            "x.yaml: model = 3: expected a section with keys cell, hidden_size, layers, "
            "bidirectional, embedding_size, dropout");
  EXPECT_EQ(config_error(kCharlm + "training:\n  steps:\n"),
            "x.yaml: training.steps = null: expected an integer >= 1 (leave the key out for the "
            "default, 1000)");
  EXPECT_EQ(config_error("task: charlm\ndata:\n  path: ''\n"),
            "x.yaml: data.path = '': expected a non-empty string");
  EXPECT_EQ(config_error("- task\n- charlm\n"),
            "x.yaml: expected a map of keys (task, seed, threads, run_dir, model, data, training) "
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
            "x.yaml: missing required key 'task': expected one of charlm, adding, classification");
  EXPECT_EQ(config_error(""),
            "x.yaml: missing required key 'task': expected one of charlm, adding, classification");
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

TEST(RunConfigErrors, CrossFieldChecksNameTheKeyThatBreaksThem) {
  EXPECT_EQ(config_error(kCharlm + "training:\n  schedule:\n    warmup_steps: 2000\n"),
            "x.yaml: training.schedule.warmup_steps = 2000: must be <= training.steps (1000)");
  EXPECT_EQ(config_error(kCharlm, {"training.schedule.warmup_steps=2000"}),
            "--set training.schedule.warmup_steps=2000: must be <= training.steps (1000)");
  EXPECT_EQ(config_error(kCharlm + "model:\n  bidirectional: true\n"),
            "x.yaml: model.bidirectional = true: must be false when task is charlm (a language "
            "model must not see the characters it predicts)");
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
  EXPECT_EQ(config.model.cell, RecurrentCell::lstm);
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
  EXPECT_EQ(training.schedule.decay, LearningRateDecay::cosine);
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
       "training.carry_state=false", "model.dropout=0.25"});
  EXPECT_EQ(config.run_dir, "out/x");
  EXPECT_EQ(config.model.cell, RecurrentCell::lstm);  // the last override wins
  EXPECT_EQ(config.model.layers, 2);
  EXPECT_EQ(config.model.dropout, 0.25);
  EXPECT_EQ(config.data.path, "text.txt");
  EXPECT_EQ(config.data.vocabulary, Vocabulary::character);
  EXPECT_EQ(config.training.steps, 700);
  EXPECT_EQ(config.training.optimizer.learning_rate, 3e-3);
  EXPECT_EQ(config.training.optimizer.betas, (std::array<double, 2>{0.9, 0.98}));
  EXPECT_EQ(config.training.schedule.decay, LearningRateDecay::linear);
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
                {"seed=7", "threads=2", "run_dir=null", "model.cell=gru", "model.hidden_size=33",
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

TEST(RunConfig, ResolvedYamlWritesEveryKeyOfTheSchema) {
  // Read with yaml-cpp directly, not with our reader, so a missing key cannot hide.
  const YAML::Node root = YAML::Load(resolved_yaml(load_text(kCharlm)));
  for (const ConfigKey& key : run_config_schema().keys()) {
    YAML::Node node = YAML::Clone(root);
    std::stringstream path(key.path);
    for (std::string name; std::getline(path, name, '.');) {
      ASSERT_TRUE(node.IsMap() && node[name]) << key.path;
      node = node[name];
    }
  }
  EXPECT_EQ(root["training"]["optimizer"]["epsilon"].Scalar(), "1.0e-08");
  EXPECT_EQ(root["data"]["path"].Scalar(), "corpus.txt");
  EXPECT_TRUE(root["data"]["train_path"].IsNull());
}

TEST(RunConfig, ShippedConfigsLoad) {
  std::vector<std::string> missing;
  for (const char* name : {"lstm_adding.yaml", "lstm_charlm.yaml"}) {
    const std::string path = std::string(SEQTRAIN_SOURCE_DIR) + "/configs/" + name;
    if (!std::filesystem::exists(path)) {
      missing.push_back(path);
      continue;
    }
    EXPECT_NO_THROW(load_run_config(path, {})) << path;
  }
  if (!missing.empty()) GTEST_SKIP() << missing.front() << " does not exist yet";
}

// docs/configuration.md holds the generated key reference between two markers.
// SEQTRAIN_UPDATE_DOCS=1 rewrites it from the schema instead of comparing.
TEST(RunConfigDocs, ConfigurationReferenceMatchesTheSchema) {
  const std::string path = std::string(SEQTRAIN_SOURCE_DIR) + "/docs/configuration.md";
  const std::string begin =
      "<!-- BEGIN KEY REFERENCE (generated from src/config/run_config.cc) -->\n";
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
