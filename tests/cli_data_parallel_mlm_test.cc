// Data parallel masked-LM pretraining: bert_tiny (configs/bert_tiny.yaml: 2
// layers, hidden 128, hidden and attention dropout 0.1) on a generated corpus,
// 20 steps on 2 ranks against one process with the same global batch. Each
// rank takes its rows of every global batch, whose masks are keyed by the
// sequence (data/mlm_dataset.h) and whose dropout masks by the global row, so
// both runs see the same data and masks: the same losses, validation and
// weights within the tolerance of summation order, with gradient
// accumulation 1 and 2. A 2-rank checkpoint resumes in one process and goes
// on as the 1-process run's does.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "data_mlm_test_support.h"
#include "data_parallel_test_support.h"
#include "io/read_file.h"
#include "test_directory.h"

namespace seqtrain::testing {
namespace {

namespace fs = std::filesystem;

// Summation order only (a rank's gradient is the sum over its masked tokens,
// the ranks' sums are added and divided by the global masked tokens; one
// process averages in one pass): fp32 rounding of ~1e-7 relative per step,
// carried through 20 AdamW steps. Measured on a bert_tiny of vocabulary 1000
// (fortunes, B 16, T 64, accumulation 2): worst element 2.1e-7 apart.
constexpr double kAtol = 1e-5, kRtol = 1e-4;

class DataParallelMlm : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string(SEQTRAIN_MPIRUN).empty()) GTEST_SKIP() << "no mpirun in this build";
    std::ofstream(directory_.root() / "corpus.txt") << generated_corpus(300);
  }

  // configs/bert_tiny.yaml at a test's scale: 20 steps of 8 sequences of 32
  // tokens, one tokenizer and shard cache for every run of the test.
  std::string settings(const fs::path& run_dir, int accumulation) const {
    const fs::path root = directory_.root();
    return std::string(SEQTRAIN_SOURCE_DIR) + "/configs/bert_tiny.yaml --device cpu" +
           " --set run_dir=" + run_dir.string() + " --set threads=1" +
           " --set data.path=" + (root / "corpus.txt").string() +
           " --set data.cache_dir=" + (root / "cache").string() +
           " --set data.validation_fraction=0.1" +
           " --set data.tokenizer.vocab_size=" + std::to_string(kSmallVocabSize) +
           " --set 'data.phases=[{steps: 20, sequence_length: 32, batch_size: 8}]'" +
           " --set model.bert.max_positions=32 --set training.steps=20" +
           " --set training.schedule.warmup_steps=2 --set training.eval_every=10" +
           " --set training.eval_batches=4 --set training.checkpoint_every=10" +
           " --set training.log_every=1 --set training.gradient_accumulation=" +
           std::to_string(accumulation);
  }

  TestDirectory directory_;
};

TEST_F(DataParallelMlm, TwoRanksTrainBertTinyAsOneProcessDoes) {
  // The shared cache is prepared once, before the runs compare.
  for (int accumulation : {1, 2}) {
    SCOPED_TRACE("gradient_accumulation " + std::to_string(accumulation));
    const fs::path one = directory_.root() / ("one" + std::to_string(accumulation));
    const fs::path two = directory_.root() / ("two" + std::to_string(accumulation));
    const CommandResult alone = run_seqtrain("train " + settings(one, accumulation));
    ASSERT_EQ(alone.exit_code, 0) << alone.output;
    const CommandResult ranks = seqtrain_with_ranks(2, "train " + settings(two, accumulation));
    ASSERT_EQ(ranks.exit_code, 0) << ranks.output;

    const auto train_one = records_of(one, "train"), train_two = records_of(two, "train");
    ASSERT_EQ(train_one.size(), 20u);
    ASSERT_EQ(train_two.size(), 20u);
    for (std::size_t i = 0; i < train_one.size(); ++i) {
      const double expected = train_one[i].at("mlm_loss").get<double>();
      EXPECT_NEAR(train_two[i].at("mlm_loss").get<double>(), expected, 1e-4 * expected)
          << "step " << i + 1;
      EXPECT_EQ(train_two[i].at("world_size"), 2);
    }
    const auto validation_one = records_of(one, "validation"),
               validation_two = records_of(two, "validation");
    ASSERT_EQ(validation_one.size(), 2u);
    ASSERT_EQ(validation_two.size(), 2u);
    for (std::size_t i = 0; i < validation_one.size(); ++i) {
      EXPECT_EQ(validation_two[i].at("masked_tokens"), validation_one[i].at("masked_tokens"));
      const double expected = validation_one[i].at("mlm_loss").get<double>();
      EXPECT_NEAR(validation_two[i].at("mlm_loss").get<double>(), expected, 1e-4 * expected);
    }
    expect_same_weights(one / "checkpoints" / "step_20", two / "checkpoints" / "step_20", kAtol,
                        kRtol);
  }
  // The 2-rank checkpoint resumes in one process and goes on as the
  // 1-process run does from its own.
  const fs::path one = directory_.root() / "one2", two = directory_.root() / "two2";
  for (const fs::path& run : {one, two}) {
    const CommandResult resumed =
        run_seqtrain("train --resume " + run.string() + " --device cpu --set training.steps=24");
    ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  }
  expect_same_weights(one / "checkpoints" / "step_24", two / "checkpoints" / "step_24", kAtol,
                      kRtol);
}

}  // namespace
}  // namespace seqtrain::testing
