// `seqtrain config show` and `seqtrain config keys` end to end, checked
// against the config file they read, the run's written config.yaml and the
// committed reference docs/configuration.md; and the one-line message of a
// resume that would change the run's model or data.

#include <filesystem>
#include <map>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "cli_test_support.h"
#include "io/read_file.h"

namespace seqtrain {
namespace {

namespace fs = std::filesystem;

using testing::CommandResult;
using testing::run_seqtrain;

class CliConfig : public testing::CliTest {
 protected:
  struct Row {
    bool changed;
    std::string value, default_value;
  };
  // config show's table by key, cut at the header's columns.
  static std::map<std::string, Row> parse_table(const std::string& text) {
    std::map<std::string, Row> rows;
    std::istringstream lines(text);
    std::string header, line;
    std::getline(lines, header);
    const std::size_t value_at = header.find("value"), default_at = header.find("default");
    auto trimmed = [](std::string field) { return field.erase(field.find_last_not_of(' ') + 1); };
    while (std::getline(lines, line))
      rows[trimmed(line.substr(2, value_at - 2))] = {
          line[0] == '*', trimmed(line.substr(value_at, default_at - value_at)),
          line.substr(default_at)};
    return rows;
  }
};

TEST_F(CliConfig, ShowListsEveryKeyWithItsValueAndDefault) {
  const fs::path config = write("c.yaml", adding_config((directory_ / "run").string(), 3));
  const CommandResult shown =
      run_seqtrain("config show " + config.string() + " --set training.clip_norm=0.5", false);
  ASSERT_EQ(shown.exit_code, 0) << shown.output;
  const std::map<std::string, Row> rows = parse_table(shown.output);
  // Given in the file, given by --set, left to the default.
  EXPECT_EQ(rows.at("model.hidden_size").value, "8");
  EXPECT_TRUE(rows.at("model.hidden_size").changed);
  EXPECT_EQ(rows.at("model.hidden_size").default_value, "256");
  EXPECT_EQ(rows.at("training.clip_norm").value, "0.5");
  EXPECT_TRUE(rows.at("training.clip_norm").changed);
  EXPECT_EQ(rows.at("training.optimizer.betas").value, "[0.9, 0.999]");
  EXPECT_FALSE(rows.at("training.optimizer.betas").changed);
  EXPECT_EQ(rows.at("task").default_value, "(required)");
  EXPECT_FALSE(rows.at("task").changed);
  EXPECT_EQ(rows.at("training.keep_best").value, "(not set)");
  // Keys for other tasks or models are left out, as in the run's config.yaml.
  EXPECT_EQ(rows.count("model.bert.layers"), 0u);
  EXPECT_EQ(rows.count("model.heads"), 0u);

  // Every key of the config.yaml a run writes is shown with the same value.
  ASSERT_EQ(run_seqtrain("train " + config.string() + " --set training.clip_norm=0.5").exit_code, 0);
  const CommandResult from_run = run_seqtrain("config show " + (directory_ / "run").string(), false);
  ASSERT_EQ(from_run.exit_code, 0) << from_run.output;
  EXPECT_EQ(parse_table(from_run.output).at("training.clip_norm").value, "0.5");
  EXPECT_EQ(parse_table(from_run.output).size(), rows.size());

  // A task's defaults without a file; nothing to show without a task.
  const CommandResult defaults =
      run_seqtrain("config show --set task=mlm --set data.path=corpus.txt", false);
  ASSERT_EQ(defaults.exit_code, 0) << defaults.output;
  EXPECT_EQ(parse_table(defaults.output).at("model.type").value, "bert");
  expect_user_error(run_seqtrain("config show"), "--set task=");
  expect_user_error(run_seqtrain("config show " + config.string() + " --set model.hiden_size=3"),
                    "did you mean 'model.hidden_size'");
}

TEST_F(CliConfig, KeysPrintsTheCommittedReference) {
  const CommandResult keys = run_seqtrain("config keys", false);
  ASSERT_EQ(keys.exit_code, 0) << keys.output;
  ASSERT_GT(keys.output.size(), 1000u);
  EXPECT_NE(read_file(fs::path(SEQTRAIN_SOURCE_DIR) / "docs" / "configuration.md").find(keys.output),
            std::string::npos);
}

// A resume that would change the model or the data names the key and both
// values, wherever the change came from.
TEST_F(CliConfig, AResumeThatChangesTheModelNamesTheKeyAndBothValues) {
  const fs::path run = directory_ / "run";
  ASSERT_EQ(run_seqtrain("train " + write("c.yaml", adding_config(run.string(), 2)).string())
                .exit_code,
            0);
  expect_user_error(run_seqtrain("train --resume " + run.string() + " --set model.hidden_size=16"),
                    "model.hidden_size would be 16, but the run has 8");
  expect_user_error(
      run_seqtrain("train --resume " + run.string() + " --set data.sequence_length=9"),
      "data.sequence_length would be 9, but the run has 6");
  // A bad --set during a resume is reported against the --set, not against
  // the run's config.yaml it is applied to.
  const CommandResult bad_value =
      run_seqtrain("train --resume " + run.string() + " --set training.steps=-5");
  expect_user_error(bad_value, "--set training.steps=-5: must be >= 1");
  EXPECT_EQ(bad_value.output.find("config.yaml"), std::string::npos) << bad_value.output;
  expect_user_error(run_seqtrain("train --resume " + run.string() + " --set training.stepz=5"),
                    "--set training.stepz=5: unknown key 'training.stepz' (did you mean "
                    "'training.steps'?)");
  // Keys outside task, model and data may change.
  EXPECT_EQ(run_seqtrain("train --resume " + run.string() + " --set training.steps=3").exit_code, 0);
}

}  // namespace
}  // namespace seqtrain
