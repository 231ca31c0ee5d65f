// Data parallel (mpirun -np 2 seqtrain train) against one process with the
// same global batch: the same losses and, after 20 steps of the LSTM adding
// task, the same weights within the tolerance that summation order alone
// explains (the 2-rank gradient is two half-batch sums added and divided by
// the global rows; one process takes the mean over the whole batch), with and
// without gradient accumulation; a 2-rank checkpoint resumes in one process;
// what cannot run data-parallel yet says so in one line.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "cli_test_support.h"
#include "io/read_file.h"
#include "io/safetensors.h"
#include "test_directory.h"
#include "test_support.h"

namespace seqtrain::testing {
namespace {

namespace fs = std::filesystem;

class DataParallel : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string(SEQTRAIN_MPIRUN).empty()) GTEST_SKIP() << "no mpirun in this build";
  }

  fs::path write_config(const std::string& name, int accumulation) {
    const fs::path path = directory_.root() / name;
    std::ofstream(path) << "task: adding\nseed: 5\nthreads: 1\n"
                           "model: {cell: lstm, hidden_size: 16}\n"
                           "data: {sequence_length: 20, batch_size: 8, validation_size: 16}\n"
                           "training: {steps: 20, eval_every: 10, log_every: 1, "
                           "checkpoint_every: 0, gradient_accumulation: "
                        << accumulation
                        << ", optimizer: {learning_rate: 0.01}, schedule: {warmup_steps: 2}}\n";
    return path;
  }

  // seqtrain train under mpirun with `ranks` processes (Open MPI as root, 2 cores).
  CommandResult train_with_ranks(int ranks, const std::string& arguments) {
    const std::string mpirun = std::string(SEQTRAIN_MPIRUN) + " --oversubscribe -np " +
                               std::to_string(ranks) + " ";
    return run_command("OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
                       "OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive timeout 120 " +
                       mpirun + SEQTRAIN_BINARY + " " + arguments + " 2>&1");
  }

  static void expect_same_weights(const fs::path& a, const fs::path& b) {
    const auto left = read_safetensors(a / "model.safetensors").tensors;
    const auto right = read_safetensors(b / "model.safetensors").tensors;
    ASSERT_EQ(left.size(), right.size());
    for (const auto& [name, value] : left)
      EXPECT_TRUE(tensors_close(right.at(name), value, 1e-5, 1e-4)) << name;
  }

  TestDirectory directory_;
};

TEST_F(DataParallel, TwoRanksTrainTheModelOneProcessTrains) {
  for (int accumulation : {1, 2}) {
    SCOPED_TRACE("gradient_accumulation " + std::to_string(accumulation));
    const fs::path config = write_config("c" + std::to_string(accumulation) + ".yaml", accumulation);
    const fs::path one = directory_.root() / ("one" + std::to_string(accumulation));
    const fs::path two = directory_.root() / ("two" + std::to_string(accumulation));
    const CommandResult alone =
        run_seqtrain("train " + config.string() + " --device cpu --set run_dir=" + one.string());
    ASSERT_EQ(alone.exit_code, 0) << alone.output;
    const CommandResult ranks = train_with_ranks(
        2, "train " + config.string() + " --device cpu --set run_dir=" + two.string());
    ASSERT_EQ(ranks.exit_code, 0) << ranks.output;
    expect_same_weights(one / "checkpoints" / "step_20", two / "checkpoints" / "step_20");
    const std::string log = read_file(two / "train.log");
    EXPECT_NE(log.find("data parallel: MPI, 2 ranks"), std::string::npos) << log;
    EXPECT_NE(read_file(two / "metrics.jsonl").find("\"world_size\":2"), std::string::npos);
  }
  // The 2-rank run's checkpoint goes on in one process.
  const fs::path two = directory_.root() / "two1";
  const CommandResult resumed =
      run_seqtrain("train --resume " + two.string() + " --device cpu --set training.steps=24");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_TRUE(fs::exists(two / "checkpoints" / "step_24"));
}

TEST_F(DataParallel, WhatCannotSplitSaysSoInOneLine) {
  const fs::path config = write_config("c.yaml", 1);
  const CommandResult odd = train_with_ranks(
      3, "train " + config.string() + " --device cpu --set run_dir=" +
             (directory_.root() / "odd").string());
  EXPECT_NE(odd.exit_code, 0);
  EXPECT_NE(odd.output.find("data.batch_size = 8: the global batch must divide by the 3 ranks"),
            std::string::npos)
      << odd.output;
}

}  // namespace
}  // namespace seqtrain::testing
