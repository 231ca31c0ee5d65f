// Checkpoint management end to end (train/checkpoint_policy.h):
// training.keep_checkpoints, training.keep_best with checkpoints/best, and
// training.early_stopping, each checked against what the run's own
// validation records say should have happened, and against a run without the
// policy (the policies never change the training itself).

#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <set>
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

class CliCheckpointPolicy : public testing::CliTest {
 protected:
  // 200 steps of the tiny adding problem, validated every 10; a constant rate
  // so that a run cut short and resumed with more steps trains the same.
  fs::path config(const std::string& name) {
    return write(name + ".yaml", "task: adding\nseed: 5\nthreads: 1\nrun_dir: " +
                                     (directory_ / name).string() +
                                     "\nmodel: {cell: lstm, hidden_size: 8}\n"
                                     "data: {sequence_length: 6, batch_size: 4, validation_size: 8}\n"
                                     "training:\n  steps: 200\n  eval_every: 10\n"
                                     "  checkpoint_every: 0\n  log_every: 50\n"
                                     "  optimizer: {learning_rate: 0.03}\n"
                                     "  schedule: {warmup_steps: 1, decay: constant}\n");
  }

  struct Validation {
    std::int64_t step;
    double mse;
  };
  static std::vector<Validation> validations(const fs::path& run) {
    std::vector<Validation> found;
    std::istringstream lines(read_file(run / "metrics.jsonl"));
    for (std::string line; std::getline(lines, line);) {
      const nlohmann::json record = nlohmann::json::parse(line);
      if (record["split"] == "validation")
        found.push_back({record["step"].get<std::int64_t>(), record["mse"].get<double>()});
    }
    return found;
  }

  static std::set<std::string> checkpoint_names(const fs::path& run) {
    std::set<std::string> names;
    for (const auto& entry : fs::directory_iterator(run / "checkpoints"))
      if (entry.path().filename().string().starts_with("step_"))
        names.insert(entry.path().filename().string());
    return names;
  }
};

TEST_F(CliCheckpointPolicy, KeepsTheNewestCheckpointsAndTheBestOne) {
  const fs::path run = directory_ / "run";
  const CommandResult result =
      run_seqtrain("train " + config("run").string() +
                   " --set training.steps=60 --set training.checkpoint_every=10"
                   " --set training.keep_checkpoints=2 --set training.keep_best=mse");
  ASSERT_EQ(result.exit_code, 0) << result.output;

  // The best step by the run's own validation records.
  const std::vector<Validation> seen = validations(run);
  ASSERT_EQ(seen.size(), 6u);
  Validation best{0, std::numeric_limits<double>::infinity()};
  for (const Validation& v : seen)
    if (v.mse < best.mse) best = v;
  std::set<std::string> expected{"step_50", "step_60", "step_" + std::to_string(best.step)};
  EXPECT_EQ(checkpoint_names(run), expected) << result.output;
  ASSERT_TRUE(fs::is_symlink(run / "checkpoints" / "best"));
  EXPECT_EQ(fs::read_symlink(run / "checkpoints" / "best").string(),
            "step_" + std::to_string(best.step));
  // The best checkpoint evaluates to the best validation value.
  const CommandResult eval = run_seqtrain("eval " + run.string() + " --checkpoint best", false);
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  EXPECT_NEAR(nlohmann::json::parse(eval.output)["mse"].get<double>(), best.mse,
              1e-12 * std::max(1.0, best.mse));
}

// Where a run without early stopping shows `patience` validations in a row
// without a new best, the run with it stops, with a checkpoint; stopped short
// and resumed with the trackers from its checkpoint, it stops at the same step.
TEST_F(CliCheckpointPolicy, EarlyStoppingStopsWherePatienceRunsOutAndResumesItsCount) {
  const int patience = 3;
  const fs::path reference = directory_ / "reference";
  ASSERT_EQ(run_seqtrain("train " + config("reference").string()).exit_code, 0);
  std::optional<std::int64_t> expected_stop;
  double best = std::numeric_limits<double>::infinity();
  int stale = 0;
  for (const Validation& v : validations(reference)) {
    stale = v.mse < best ? 0 : stale + 1;
    best = std::min(best, v.mse);
    if (stale >= patience && v.step < 200) {
      expected_stop = v.step;
      break;
    }
  }
  const std::string early = " --set training.early_stopping.metric=mse --set "
                            "training.early_stopping.patience=" + std::to_string(patience);

  const fs::path stopped = directory_ / "stopped";
  const CommandResult result = run_seqtrain("train " + config("stopped").string() + early);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const std::int64_t last = validations(stopped).back().step;
  EXPECT_EQ(last, expected_stop.value_or(200)) << result.output;
  EXPECT_TRUE(fs::exists(stopped / "checkpoints" / ("step_" + std::to_string(last))));
  if (expected_stop) {
    EXPECT_NE(result.output.find("early stopping at step " + std::to_string(*expected_stop)),
              std::string::npos)
        << result.output;
  }

  // 40 steps, then resumed to 200: the patience count carries over.
  const fs::path resumed = directory_ / "resumed";
  ASSERT_EQ(run_seqtrain("train " + config("resumed").string() + early +
                         " --set training.steps=40")
                .exit_code,
            0);
  const CommandResult second =
      run_seqtrain("train --resume " + resumed.string() + " --set training.steps=200");
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_EQ(validations(resumed).back().step, last) << second.output;
}

TEST_F(CliCheckpointPolicy, UnknownMetricsAndEarlyStoppingWithoutValidationAreConfigErrors) {
  const std::string train = "train " + config("run").string();
  expect_user_error(run_seqtrain(train + " --set training.keep_best=accuracy"),
                    "training.keep_best=accuracy: task adding validates mse; name one of them");
  expect_user_error(run_seqtrain(train + " --set training.early_stopping.metric=loss"),
                    "training.early_stopping.metric=loss: task adding validates mse");
  expect_user_error(run_seqtrain(train + " --set training.early_stopping.metric=mse"
                                         " --set training.eval_every=0"),
                    "needs validations during the run: set training.eval_every > 0");
  EXPECT_FALSE(fs::exists(directory_ / "run"));
}

}  // namespace
}  // namespace seqtrain
