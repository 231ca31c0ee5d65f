// seqtrain predict and eval --data end to end (tasks/prediction.h), each held
// against another route through the code: classification against eval's
// validation pass over the same file, charlm's next symbol against
// generate --greedy, adding's targets against the sums of the marked values.

#include <cmath>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_test_support.h"
#include "io/read_file.h"

namespace seqtrain {
namespace {

namespace fs = std::filesystem;

using testing::CommandResult;
using testing::run_seqtrain;

class CliPredict : public testing::CliTest {
 protected:
  static std::vector<nlohmann::json> records(const std::string& output) {
    std::vector<nlohmann::json> parsed;
    std::istringstream lines(output);
    for (std::string line; std::getline(lines, line);) parsed.push_back(nlohmann::json::parse(line));
    return parsed;
  }
};

TEST_F(CliPredict, ClassificationScoresAFileAsEvalScoresItsValidationData) {
  std::string train, validation;
  const char* words[] = {"apple pie", "green tree", "apple jam", "tall tree", "apple tart"};
  for (int i = 0; i < 60; ++i) {
    const std::string text = std::string(words[i % 5]) + " " + std::to_string(i % 7);
    (i % 4 == 0 ? validation : train) +=
        std::string(text.find("apple") == 0 ? "fruit" : "plant") + "\t" + text + "\n";
  }
  const fs::path run = directory_ / "run";
  const fs::path config = write(
      "c.yaml", "task: classification\nseed: 4\nthreads: 1\nrun_dir: " + run.string() +
                    "\nmodel: {cell: gru, embedding_size: 8, hidden_size: 12, bidirectional: true}\n"
                    "data: {train_path: " + write("train.tsv", train).string() +
                    ", validation_path: " + write("validation.tsv", validation).string() +
                    ", sequence_length: 12, batch_size: 4}\n"
                    "training: {steps: 30, eval_every: 0, log_every: 10, "
                    "optimizer: {learning_rate: 0.01}, schedule: {warmup_steps: 1}}\n");
  ASSERT_EQ(run_seqtrain("train " + config.string()).exit_code, 0);
  // The training run's own validation records stay short.
  EXPECT_EQ(read_file(run / "metrics.jsonl").find("confusion_matrix"), std::string::npos);

  const CommandResult eval = run_seqtrain("eval " + run.string(), false);
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  const nlohmann::json expected = nlohmann::json::parse(eval.output);
  const CommandResult scored =
      run_seqtrain("eval " + run.string() + " --data " + (directory_ / "validation.tsv").string(),
                   false);
  ASSERT_EQ(scored.exit_code, 0) << scored.output;
  const nlohmann::json got = nlohmann::json::parse(scored.output);
  EXPECT_EQ(got["examples"], expected["examples"]);
  EXPECT_DOUBLE_EQ(got["accuracy"].get<double>(), expected["accuracy"].get<double>());
  EXPECT_NEAR(got["loss"].get<double>(), expected["loss"].get<double>(),
              1e-5 * expected["loss"].get<double>());
  // eval counts its confusion matrix from the validation batches, eval --data
  // from the file's predictions: the same counts and per-class figures.
  EXPECT_EQ(got["confusion_matrix"], expected["confusion_matrix"]);
  EXPECT_EQ(got["per_class"], expected["per_class"]);
  // The confusion matrix (rows expected, columns predicted) accounts for every example.
  const auto counts = got["confusion_matrix"]["counts"];
  const auto labels = got["confusion_matrix"]["labels"];
  ASSERT_EQ(labels, nlohmann::json({"fruit", "plant"}));
  std::int64_t total = 0, diagonal = 0;
  for (std::size_t r = 0; r < 2; ++r)
    for (std::size_t c = 0; c < 2; ++c) {
      total += counts[r][c].get<std::int64_t>();
      if (r == c) diagonal += counts[r][c].get<std::int64_t>();
    }
  EXPECT_EQ(total, expected["examples"].get<std::int64_t>());
  EXPECT_NEAR(static_cast<double>(diagonal) / total, expected["accuracy"].get<double>(), 1e-12);
  const double fruit_recall = counts[0][0].get<double>() / (counts[0][0].get<double>() + counts[0][1].get<double>());
  EXPECT_NEAR(got["per_class"]["fruit"]["recall"].get<double>(), fruit_recall, 1e-12);

  // predict: a record per line, labelled or not; probabilities sum to 1.
  const fs::path input = write("input.tsv", "fruit\tapple pie 3\ngreen tree 9\n" +
                                                std::string(40, 'x') + "\n");
  const CommandResult predicted = run_seqtrain("predict " + run.string() + " --input " + input.string(), false);
  ASSERT_EQ(predicted.exit_code, 0) << predicted.output;
  const std::vector<nlohmann::json> lines = records(predicted.output);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0]["line"], 1);
  EXPECT_EQ(lines[0]["expected"], "fruit");
  EXPECT_FALSE(lines[1].contains("expected"));
  EXPECT_EQ(lines[2]["truncated"], true);
  for (const nlohmann::json& line : lines) {
    double sum = 0.0, best = -1.0;
    std::string best_label;
    for (const auto& [label, p] : line["probabilities"].items()) {
      sum += p.get<double>();
      if (p.get<double>() > best) best = p.get<double>(), best_label = label;
    }
    EXPECT_NEAR(sum, 1.0, 1e-9);
    EXPECT_EQ(line["label"], best_label);
  }
  // A label the run does not know names the line.
  expect_user_error(run_seqtrain("predict " + run.string() + " --input " +
                                 write("bad.tsv", "fruit\tok\nweed\tdandelion\n").string()),
                    "bad.tsv line 2: label 'weed' is not one of the run's classes (fruit, plant)");
}

TEST_F(CliPredict, CharlmNextSymbolIsWhatGreedyGenerationWrites) {
  std::string corpus;
  for (int i = 0; i < 80; ++i) corpus += "abcabd abcabe " + std::to_string(i % 3) + "\n";
  const fs::path run = directory_ / "run";
  const fs::path config = write(
      "c.yaml", "task: charlm\nseed: 2\nthreads: 1\nrun_dir: " + run.string() +
                    "\nmodel: {cell: lstm, embedding_size: 8, hidden_size: 16}\n"
                    "data: {path: " + write("corpus.txt", corpus).string() +
                    ", sequence_length: 16, batch_size: 4}\n"
                    "training: {steps: 40, eval_every: 0, log_every: 20, "
                    "optimizer: {learning_rate: 0.01}, schedule: {warmup_steps: 1}}\n");
  ASSERT_EQ(run_seqtrain("train " + config.string()).exit_code, 0);
  const std::vector<std::string> prompts = {"abca", "abcabd ab", "c"};
  std::string input;
  for (const std::string& prompt : prompts) input += prompt + "\n";
  input += "\n";  // an empty line: nothing to predict
  const CommandResult predicted = run_seqtrain(
      "predict " + run.string() + " --top-k 3 --input " + write("input.txt", input).string(), false);
  ASSERT_EQ(predicted.exit_code, 0) << predicted.output;
  const std::vector<nlohmann::json> lines = records(predicted.output);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[3]["characters"], 0);
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    EXPECT_EQ(lines[i]["characters"], prompts[i].size());
    ASSERT_EQ(lines[i]["next"].size(), 3u);
    EXPECT_NEAR(lines[i]["bits_per_char"].get<double>(),
                lines[i]["loss"].get<double>() / std::log(2.0), 1e-12);
    const CommandResult greedy = run_seqtrain(
        "generate " + run.string() + " --greedy --length 1 --prompt '" + prompts[i] + "'", false);
    ASSERT_EQ(greedy.exit_code, 0) << greedy.output;
    EXPECT_EQ(greedy.output, prompts[i] + lines[i]["next"][0]["symbol"].get<std::string>() + "\n")
        << "line " << i + 1;
  }
}

TEST_F(CliPredict, AddingTargetsAreTheMarkedSumsAndBadLinesNameTheLine) {
  const fs::path run = directory_ / "run";
  ASSERT_EQ(run_seqtrain("train " + write("c.yaml", adding_config(run.string(), 5)).string()).exit_code,
            0);
  const fs::path input = write("input.txt", "0.5 0.25* 0.125 0.75* 0.0 0.0\n0.1 0.2 0.3\n");
  const CommandResult predicted = run_seqtrain("predict " + run.string() + " --input " + input.string(), false);
  ASSERT_EQ(predicted.exit_code, 0) << predicted.output;
  const std::vector<nlohmann::json> lines = records(predicted.output);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_DOUBLE_EQ(lines[0]["target"].get<double>(), 1.0);
  EXPECT_FALSE(lines[1].contains("target"));  // not two marked values: nothing expected
  const CommandResult scored =
      run_seqtrain("eval " + run.string() + " --data " + input.string(), false);
  ASSERT_EQ(scored.exit_code, 0) << scored.output;
  const double error = lines[0]["prediction"].get<double>() - 1.0;
  EXPECT_NEAR(nlohmann::json::parse(scored.output)["mse"].get<double>(), error * error, 1e-9);
  EXPECT_EQ(nlohmann::json::parse(scored.output)["examples"], 1);

  expect_user_error(run_seqtrain("predict " + run.string() + " --input " +
                                 write("bad.txt", "0.1 0.2\n0.3 abc*\n").string()),
                    "bad.txt line 2: 'abc' is not a number");
  expect_user_error(run_seqtrain("predict " + run.string() + " --input " +
                                 write("long.txt", "0.1 0.1 0.1 0.1 0.1 0.1 0.1\n").string()),
                    "long.txt line 1: 7 values, more than data.sequence_length (6)");
  expect_user_error(run_seqtrain("eval " + run.string() + " --data " +
                                 write("unlabelled.txt", "0.1 0.2\n").string()),
                    "nothing to score");
}

}  // namespace
}  // namespace seqtrain
