// Data parallel (mpirun -np 2 seqtrain train) against one process with the
// same global batch, for the sequence tasks: the same losses and, after 20
// steps, the same weights within the tolerance that summation order alone
// explains (the 2-rank gradient is two half-batch sums added and divided by
// the global rows; one process takes the mean over the whole batch), with and
// without gradient accumulation, and with dropout between recurrent layers
// (time-major) and in a Transformer (batch-major, and on the attention
// probabilities): each rank draws the masks of its rows of the global batch.
// Gradient buckets change nothing; a 2-rank checkpoint resumes in one
// process; a char-LM carrying its state gathers it into checkpoints; what
// cannot run data-parallel says so in one line.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "data_parallel_test_support.h"
#include "io/read_file.h"
#include "test_directory.h"

namespace seqtrain::testing {
namespace {

namespace fs = std::filesystem;

// Summation order only: a rank sums its half of the rows, the halves are
// added and divided by the global rows, where one process takes the mean over
// all rows at once; fp32 rounding of those sums (~1e-7 relative) feeds 20
// AdamW updates.
constexpr double kAtol = 1e-5, kRtol = 1e-4;

class DataParallel : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string(SEQTRAIN_MPIRUN).empty()) GTEST_SKIP() << "no mpirun in this build";
  }

  fs::path write_config(const std::string& name, int accumulation,
                        const std::string& model = "{cell: lstm, hidden_size: 16}") {
    const fs::path path = directory_.root() / name;
    std::ofstream(path) << "task: adding\nseed: 5\nthreads: 1\n"
                           "model: "
                        << model
                        << "\n"
                           "data: {sequence_length: 20, batch_size: 8, validation_size: 16}\n"
                           "training: {steps: 20, eval_every: 10, log_every: 1, "
                           "checkpoint_every: 0, gradient_accumulation: "
                        << accumulation
                        << ", optimizer: {learning_rate: 0.01}, schedule: {warmup_steps: 2}}\n";
    return path;
  }

  void expect_two_ranks_train_what_one_trains(const fs::path& config, const std::string& name,
                                              const std::vector<SkippedElements>& skipped = {}) {
    RankComparison how;  // --device cpu, 20 steps
    how.atol = kAtol;
    how.rtol = kRtol;
    how.skipped = skipped;
    seqtrain::testing::expect_two_ranks_train_what_one_trains(directory_.root(), config, name, how);
  }

  TestDirectory directory_;
};

TEST_F(DataParallel, TwoRanksTrainTheModelOneProcessTrains) {
  for (int accumulation : {1, 2}) {
    SCOPED_TRACE("gradient_accumulation " + std::to_string(accumulation));
    const std::string name = "lstm" + std::to_string(accumulation);
    expect_two_ranks_train_what_one_trains(write_config(name + ".yaml", accumulation), name);
    const fs::path two = directory_.root() / name / "two";
    const std::string log = read_file(two / "train.log");
    EXPECT_NE(log.find("data parallel: MPI, 2 ranks"), std::string::npos) << log;
    EXPECT_NE(log.find("world size 2"), std::string::npos) << log;
    for (const nlohmann::json& record : records_of(two, "train")) {
      EXPECT_EQ(record.at("world_size"), 2);
      EXPECT_GE(record.at("communication_seconds").get<double>(), 0.0);
    }
    const fs::path one = directory_.root() / name / "one";
    EXPECT_NE(read_file(one / "train.log").find("world size 1"), std::string::npos);
    EXPECT_EQ(records_of(one, "train").front().at("world_size"), 1);
  }
  // The 2-rank run's checkpoint goes on in one process.
  const fs::path two = directory_.root() / "lstm1" / "two";
  const CommandResult resumed =
      run_seqtrain("train --resume " + two.string() + " --device cpu --set training.steps=24");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_TRUE(fs::exists(two / "checkpoints" / "step_24"));
}

// Dropout masks are keyed by the global row: with them drawn per rank
// instead, the two runs part after the first step by far more than kRtol.
TEST_F(DataParallel, DropoutDrawsTheMasksOneProcessDraws) {
  {
    SCOPED_TRACE("LSTM, dropout between layers (time-major [T, B, H])");
    expect_two_ranks_train_what_one_trains(
        write_config("lstm.yaml", 2, "{cell: lstm, hidden_size: 16, layers: 2, dropout: 0.3}"),
        "lstm");
  }
  {
    SCOPED_TRACE("Transformer, dropout on rows [B * T, H] and attention probabilities");
    // The key bias [64, 128) of qkv.bias has a zero gradient in exact
    // arithmetic (softmax_j(q . (k_j + b)) = softmax_j(q . k_j): q . b is the
    // same for every key), so what it holds is rounding noise of either
    // summation order, which AdamW's m / sqrt(v) turns into steps of the
    // learning rate's size. It is left out; everything else is compared.
    expect_two_ranks_train_what_one_trains(
        write_config("transformer.yaml", 1,
                     "{type: transformer, hidden_size: 64, layers: 1, heads: 2, "
                     "intermediate_size: 64, dropout: 0.2}"),
        "transformer", {{"encoder.layer.0.attention.self.qkv.bias", 64, 64}});
  }
}

// Buckets only group the all-reduces: 2 ranks add each element once, so any
// bucket size gives the same bits.
TEST_F(DataParallel, BucketSizeChangesNothingButTheBucketCount) {
  const fs::path config = write_config("c.yaml", 1);
  const fs::path many = directory_.root() / "many", one = directory_.root() / "one";
  const CommandResult small = seqtrain_with_ranks(
      2, "train " + config.string() + " --device cpu --set run_dir=" + many.string() +
             " --set distributed.bucket_mb=0.002");
  ASSERT_EQ(small.exit_code, 0) << small.output;
  const CommandResult large = seqtrain_with_ranks(
      2, "train " + config.string() + " --device cpu --set run_dir=" + one.string());
  ASSERT_EQ(large.exit_code, 0) << large.output;
  EXPECT_NE(read_file(one / "train.log").find("gradient buckets: 1 of at most 25 MiB"),
            std::string::npos)
      << read_file(one / "train.log");
  const std::string log = read_file(many / "train.log");
  EXPECT_EQ(log.find("gradient buckets: 1 of"), std::string::npos) << log;
  EXPECT_NE(log.find("gradient buckets: "), std::string::npos) << log;
  expect_same_weights(many / "checkpoints" / "step_20", one / "checkpoints" / "step_20", 0.0, 0.0);
}

// A char-LM that carries its recurrent state across batches (truncated
// BPTT): each rank carries the state of its rows, the checkpoint holds every
// rank's rows gathered in order (what one process keeps), and a checkpoint
// resumes on another number of ranks with each taking its rows.
TEST_F(DataParallel, ACharLmCarryingItsStateTrainsAndResumesOnAnyRankCount) {
  std::string text;
  for (int line = 0; line < 200; ++line)
    text += "the quick brown fox " + std::to_string(line * 7919 % 1000) + " jumps over\n";
  const fs::path corpus = directory_.root() / "corpus.txt";
  std::ofstream(corpus) << text;
  const fs::path config = directory_.root() / "charlm.yaml";
  std::ofstream(config) << "task: charlm\nseed: 5\nthreads: 1\n"
                           "model: {cell: lstm, hidden_size: 16, layers: 2, dropout: 0.1}\n"
                           "data: {path: "
                        << corpus.string()
                        << ", sequence_length: 12, batch_size: 8}\n"
                           "training: {steps: 20, carry_state: true, eval_every: 10, log_every: 1, "
                           "checkpoint_every: 10, optimizer: {learning_rate: 0.01}, "
                           "schedule: {warmup_steps: 2}}\n";
  const fs::path one = directory_.root() / "charlm" / "one";
  const fs::path two = directory_.root() / "charlm" / "two";
  const CommandResult alone =
      run_seqtrain("train " + config.string() + " --device cpu --set run_dir=" + one.string());
  ASSERT_EQ(alone.exit_code, 0) << alone.output;
  const CommandResult ranks = seqtrain_with_ranks(
      2, "train " + config.string() + " --device cpu --set run_dir=" + two.string());
  ASSERT_EQ(ranks.exit_code, 0) << ranks.output;
  auto carried = [](const fs::path& checkpoint) {
    return read_safetensors(checkpoint / "trainer_state.safetensors").tensors;
  };
  for (const char* step : {"step_10", "step_20"}) {
    SCOPED_TRACE(step);
    expect_same_weights(one / "checkpoints" / step, two / "checkpoints" / step, kAtol, kRtol);
    const auto state_one = carried(one / "checkpoints" / step);
    const auto state_two = carried(two / "checkpoints" / step);
    ASSERT_EQ(state_one.size(), 4u);  // h and c of 2 layers
    ASSERT_EQ(state_two.size(), state_one.size());
    for (const auto& [name, value] : state_one) {
      EXPECT_EQ(value.shape(), (Shape{8, 16})) << name;
      EXPECT_TRUE(tensors_close(state_two.at(name), value, kAtol, kRtol)) << name;
    }
  }
  // Step 10 of each, resumed on the other rank count, reaches step 20's weights.
  for (const auto& [from, resume_ranks] : {std::pair{one, 2}, std::pair{two, 1}}) {
    const fs::path resumed =
        directory_.root() / "charlm" / ("resumed_on_" + std::to_string(resume_ranks));
    fs::copy(from, resumed, fs::copy_options::recursive);
    fs::remove_all(resumed / "checkpoints" / "step_20");
    fs::remove(resumed / "checkpoints" / "latest");
    const std::string arguments = "train --resume " + resumed.string() + " --device cpu";
    const CommandResult result =
        resume_ranks == 1 ? run_seqtrain(arguments) : seqtrain_with_ranks(2, arguments);
    ASSERT_EQ(result.exit_code, 0) << result.output;
    expect_same_weights(one / "checkpoints" / "step_20", resumed / "checkpoints" / "step_20",
                        kAtol, kRtol);
  }
}

TEST_F(DataParallel, WhatCannotSplitSaysSoInOneLine) {
  const fs::path config = write_config("c.yaml", 1);
  const CommandResult odd = seqtrain_with_ranks(
      3, "train " + config.string() +
             " --device cpu --set run_dir=" + (directory_.root() / "odd").string());
  EXPECT_NE(odd.exit_code, 0);
  EXPECT_NE(odd.output.find("data.batch_size = 8: the global batch must divide by the 3 ranks"),
            std::string::npos)
      << odd.output;
  const CommandResult zero = run_seqtrain("train " + config.string() +
                                          " --device cpu --set distributed.bucket_mb=0 --set "
                                          "run_dir=" +
                                          (directory_.root() / "zero").string());
  EXPECT_EQ(zero.exit_code, 2);
  EXPECT_NE(zero.output.find("distributed.bucket_mb"), std::string::npos) << zero.output;
}

}  // namespace
}  // namespace seqtrain::testing
