// The seqtrain binary end to end: bad input of every kind is one line on stderr
// and exit code 2; a short run writes its run directory; N steps + resume + N
// steps equals 2N steps bit for bit.

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_test_support.h"
#include "io/atomic_write.h"
#include "io/read_file.h"
#include "io/safetensors.h"

namespace seqtrain {
namespace {

namespace fs = std::filesystem;

using testing::CommandResult;
using testing::run_seqtrain;

// The shared fixture: a temporary directory and a tiny adding-problem config.
class Cli : public testing::CliTest {};

TEST_F(Cli, UnknownConfigKeySuggestsTheNearestKey) {
  fs::path config = write("bad.yaml", "task: adding\ntraining: {stepz: 3}\n");
  expect_user_error(run_seqtrain("train " + config.string()), "did you mean 'training.steps'");
}

TEST_F(Cli, WrongTypeAndRangeAreOneLineErrors) {
  fs::path config = write("c.yaml", adding_config((directory_ / "run").string(), 2));
  expect_user_error(run_seqtrain("train " + config.string() + " --set training.steps=abc"),
                    "training.steps");
  expect_user_error(run_seqtrain("train " + config.string() +
                                 " --set training.optimizer.learning_rate=-1"),
                    "learning_rate");
}

// threads: 100000 or OMP_NUM_THREADS=100000 crashed inside libgomp (SIGSEGV).
TEST_F(Cli, ThreadCountsBeyondTheLimitAreOneLineErrors) {
  fs::path config = write("c.yaml", adding_config((directory_ / "run").string(), 2));
  expect_user_error(run_seqtrain("train " + config.string() + " --set threads=100000"),
                    "threads");
  const CommandResult result =
      run_seqtrain("train " + config.string() + " --set threads=0", true, "OMP_NUM_THREADS=100000");
  expect_user_error(result, "OMP_NUM_THREADS=100000");
  EXPECT_FALSE(fs::exists(directory_ / "run")) << result.output;
}

// A decay needs a step after warmup: the config check says so, not the run.
// A smoke run with fewer steps than the config's warmup (lstm_charlm.yaml's 100
// with --set training.steps=5) runs: the warmup is clamped, with a warning,
// and the rates follow the clamped schedule.
TEST_F(Cli, WarmupLongerThanTheRunIsClampedWithAWarning) {
  const fs::path run = directory_ / "run";
  fs::path config = write("c.yaml", adding_config(run.string(), 3));
  CommandResult result = run_seqtrain("train " + config.string() +
                                      " --set training.schedule.warmup_steps=100");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("training.schedule.warmup_steps 100 does not fit a run of 3 steps "
                               "with cosine decay: warmup clamped to 2 steps"),
            std::string::npos)
      << result.output;
  // Peak 0.01 reached at step 2 (the clamped warmup), the final rate 0 at step 3.
  std::vector<double> rates;
  std::istringstream lines(read_file(run / "metrics.jsonl"));
  for (std::string line; std::getline(lines, line);) {
    const nlohmann::json record = nlohmann::json::parse(line);
    if (record["split"] == "train") rates.push_back(record["lr"].get<double>());
  }
  ASSERT_EQ(rates.size(), 3u);
  EXPECT_NEAR(rates[0], 0.005, 1e-9);
  EXPECT_NEAR(rates[1], 0.01, 1e-9);
  EXPECT_NEAR(rates[2], 0.0, 1e-9);
}

// Messages a probe found rough: an empty --set value silently fell back to
// the default run_dir; eval named --resume; nan passed as a temperature; a
// bad count said "not in range 0.000000 to 1797693..." (309 digits).
TEST_F(Cli, FlagMessagesNameTheFlagAndTheAcceptedValues) {
  fs::path config = write("c.yaml", adding_config((directory_ / "run").string(), 2));
  expect_user_error(run_seqtrain("train " + config.string() + " --set run_dir="),
                    "no value after '='");
  EXPECT_FALSE(fs::exists(directory_ / "run"));
  const CommandResult missing = run_seqtrain("eval " + (directory_ / "nowhere").string());
  expect_user_error(missing, "no such run directory");
  EXPECT_EQ(missing.output.find("--resume"), std::string::npos) << missing.output;
  for (const char* flag : {"--temperature nan", "--temperature inf", "--temperature -1"})
    expect_user_error(run_seqtrain("generate " + directory_.string() + " " + flag),
                      "is not a finite number > 0");
  for (const auto& [flag, accepted] :
       {std::pair{"--length 0", "not an integer >= 1"}, std::pair{"--top-k -3", ">= 0"}}) {
    const CommandResult result = run_seqtrain("generate " + directory_.string() + " " + flag);
    expect_user_error(result, accepted);
    EXPECT_EQ(result.output.find("179769"), std::string::npos) << result.output;
  }
  const CommandResult batches = run_seqtrain("eval " + directory_.string() + " --batches 0");
  expect_user_error(batches, "not an integer >= 1");
}

// A FIFO as the config, the corpus or a tokenizer's input blocked forever,
// and /dev/zero as a corpus was read until memory ran out: inputs must be
// regular files. (The test's timeout would catch a hang.)
TEST_F(Cli, InputsThatAreNotRegularFilesAreOneLineErrors) {
  const fs::path fifo = directory_ / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  expect_user_error(run_seqtrain("train " + fifo.string()), "is not a regular file (a FIFO)");
  const std::string charlm = "task: charlm\nthreads: 1\nrun_dir: " + (directory_ / "run").string() +
                             "\nmodel: {hidden_size: 4, embedding_size: 3}\n"
                             "training: {steps: 1}\ndata: {path: ";
  for (const std::string& corpus : {fifo.string(), std::string("/dev/zero")}) {
    const fs::path config = write("c.yaml", charlm + corpus + "}\n");
    expect_user_error(run_seqtrain("train " + config.string()), "is not a regular file");
    EXPECT_FALSE(fs::exists(directory_ / "run"));
  }
  expect_user_error(run_seqtrain("tokenizer train --input " + fifo.string() + " --vocab-size 50 " +
                                 "--output " + (directory_ / "tokenizer").string()),
                    "is not a regular file (a FIFO)");
}

// Every run prints its memory plan before its first batch; a run that cannot
// fit (data.sequence_length 1e9 on a small corpus grew past 23 GB until the
// kernel killed it) is refused in one line, leaving no run directory.
TEST_F(Cli, ARunThatCannotFitInMemoryIsRefusedBeforeAllocating) {
  std::string corpus;
  for (int i = 0; i < 50; ++i) corpus += "a small corpus line " + std::to_string(i) + "\n";
  write("corpus.txt", corpus);
  const fs::path config = write(
      "charlm.yaml", "task: charlm\nthreads: 1\nrun_dir: " + (directory_ / "run").string() +
                         "\nmodel: {hidden_size: 8, embedding_size: 4}\n"
                         "data: {path: " + (directory_ / "corpus.txt").string() +
                         ", sequence_length: 8, batch_size: 2}\n"
                         "training: {steps: 1, eval_batches: 1}\n");
  const CommandResult fits = run_seqtrain("train " + config.string());
  ASSERT_EQ(fits.exit_code, 0) << fits.output;
  EXPECT_NE(fits.output.find("memory plan: "), std::string::npos) << fits.output;
  fs::remove_all(directory_ / "run");
  const CommandResult huge =
      run_seqtrain("train " + config.string() + " --set data.sequence_length=1000000000");
  expect_user_error(huge, "of memory available: lower data.batch_size or data.sequence_length");
  EXPECT_FALSE(fs::exists(directory_ / "run"));
}

// A vocabulary far too large for the corpus: SentencePiece's warning line
// came before seqtrain's error; now the error is the only line.
TEST_F(Cli, AnImpossibleVocabularySizeIsOneLine) {
  std::string corpus;
  for (int i = 0; i < 200; ++i) corpus += "some words to learn pieces from " + std::to_string(i) + "\n";
  const fs::path input = write("corpus.txt", corpus);
  const CommandResult result =
      run_seqtrain("tokenizer train --input " + input.string() + " --vocab-size 1000000000 " +
                   "--output " + (directory_ / "tokenizer").string());
  expect_user_error(result, "Vocabulary size too high");
  EXPECT_EQ(std::count(result.output.begin(), result.output.end(), '\n'), 1) << result.output;
}

// Steps with a non-finite loss are skipped and counted; max_skipped_steps + 1
// in a row stop the run with one line naming the last good checkpoint.
TEST_F(Cli, NonFiniteStepsAreSkippedUntilTooManyInARow) {
  const fs::path run = directory_ / "run";
  const fs::path config = write("c.yaml", adding_config(run.string(), 50, 1));
  const CommandResult result =
      run_seqtrain("train " + config.string() + " --set training.optimizer.learning_rate=1e30" +
                   " --set training.clip_norm=0 --set training.max_skipped_steps=2");
  expect_user_error(result, "training diverged: 3 steps in a row up to step");
  EXPECT_NE(result.output.find("the last good checkpoint is " + run.string()), std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("skipped: the loss is"), std::string::npos) << result.output;
}

TEST_F(Cli, BadSetSyntaxIsAnError) {
  fs::path config = write("c.yaml", adding_config((directory_ / "run").string(), 2));
  expect_user_error(run_seqtrain("train " + config.string() + " --set training.steps"), "key=value");
}

TEST_F(Cli, MissingAndEmptyDataFilesAreErrors) {
  const std::string base = "task: charlm\nrun_dir: " + (directory_ / "run").string() + "\ndata: {path: ";
  fs::path missing = write("missing.yaml", base + (directory_ / "nope.txt").string() + "}\n");
  expect_user_error(run_seqtrain("train " + missing.string()), "nope.txt");
  write("empty.txt", "");
  fs::path empty = write("empty.yaml", base + (directory_ / "empty.txt").string() + "}\n");
  fs::remove_all(directory_ / "run");
  expect_user_error(run_seqtrain("train " + empty.string()), "empty.txt");
}

TEST_F(Cli, UnknownDeviceAndMissingCudaAreErrors) {
  fs::path config = write("c.yaml", adding_config((directory_ / "run").string(), 2));
  expect_user_error(run_seqtrain("train " + config.string() + " --device tpu"),
                    "'tpu' is not a device");
  expect_user_error(run_seqtrain("train " + config.string() + " --device cuda:x"),
                    "'cuda:x' is not a device");
  expect_user_error(run_seqtrain("train " + config.string() + " --device cuda"), "cuda");
  // cuda:N passes the flag's check and is refused by the device query, which
  // names it (no GPU here; on a GPU machine there is no device 7 either).
  expect_user_error(run_seqtrain("train " + config.string() + " --device cuda:7"),
                    "--device cuda:7");
  // No failure leaves a run directory behind that would refuse the retry.
  EXPECT_FALSE(fs::exists(directory_ / "run"));
  ASSERT_EQ(run_seqtrain("train " + config.string() + " --device cpu").exit_code, 0);
  const std::string run = (directory_ / "run").string();
  expect_user_error(run_seqtrain("eval " + run + " --device cuda:7"), "--device cuda:7");
  // generate (charlm runs only) takes the same spellings.
  expect_user_error(run_seqtrain("generate " + run + " --device cuda:x"),
                    "'cuda:x' is not a device");
  expect_user_error(run_seqtrain("generate " + run + " --device cuda:7"),
                    "is a run of task adding; generate serves charlm runs");
}

// The CUDA backend is a plug-in (backends/cuda_plugin.h): without it seqtrain
// still starts, says why cuda is unavailable, trains on the CPU under
// --device auto and refuses --device cuda in one line naming the cause.
TEST_F(Cli, WithoutTheCudaPluginInfoSaysWhyAndAutoTrainsOnTheCpu) {
  const std::string missing = "SEQTRAIN_CUDA_PLUGIN=" + (directory_ / "no_plugin.so").string();
  const CommandResult info = run_seqtrain("info", true, missing);
  ASSERT_EQ(info.exit_code, 0) << info.output;
  EXPECT_NE(info.output.find("backends:  serial, cpu\n"), std::string::npos) << info.output;
  // A CPU-only build has no plug-in to look for.
  const std::string cause =
      SEQTRAIN_TESTS_WITH_CUDA ? "the CUDA plug-in libseqtrain_cuda.so was not found" : "not built";
  EXPECT_NE(info.output.find("cuda:      unavailable: " + cause), std::string::npos) << info.output;
  if (SEQTRAIN_TESTS_WITH_CUDA) {
    EXPECT_NE(info.output.find("(looked at " + (directory_ / "no_plugin.so").string()),
              std::string::npos)
        << info.output;
  }
  EXPECT_NE(info.output.find("vector:    "), std::string::npos) << info.output;
  // NCCL comes with the plug-in, so its line gives the same cause.
  EXPECT_NE(
      info.output.find("nccl:      unavailable: it comes with the CUDA plug-in, which is " + cause),
      std::string::npos)
      << info.output;

  fs::path config = write("c.yaml", adding_config((directory_ / "run").string(), 2));
  expect_user_error(run_seqtrain("train " + config.string() + " --device cuda", true, missing),
                    "the CUDA backend is unavailable: " + cause);
  const CommandResult trained =
      run_seqtrain("train " + config.string() + " --device auto", true, missing);
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  EXPECT_NE(trained.output.find("device auto: no GPU found, using the CPU"),
            std::string::npos)
      << trained.output;
}

// Extending a finished run with a decaying schedule says how the learning
// rate moves (the decay keeps its shape over the new total), never silently.
TEST_F(Cli, ExtendingADecayingRunSaysHowTheLearningRateMoves) {
  fs::path config = write("c.yaml", adding_config((directory_ / "run").string(), 4));
  ASSERT_EQ(run_seqtrain("train " + config.string() + " --device cpu").exit_code, 0);
  const CommandResult extended = run_seqtrain("train --resume " + (directory_ / "run").string() +
                                              " --device cpu --set training.steps=8");
  ASSERT_EQ(extended.exit_code, 0) << extended.output;
  // Cosine from 0.01 after 1 warmup step: step 4 of 4 is at 0, step 4 of 8 at 0.00611.
  EXPECT_NE(extended.output.find("training.steps 4 -> 8: the cosine decay now runs to step 8, "
                                 "keeping its shape, so the learning rate at step 4 moves from "
                                 "0.000e+00 to 6.113e-03"),
            std::string::npos)
      << extended.output;
  // The same total again: nothing to say.
  const CommandResult again = run_seqtrain("train --resume " + (directory_ / "run").string() +
                                           " --device cpu --set training.steps=8");
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(again.output.find("decay now runs"), std::string::npos) << again.output;
}

// model.type transformer trains the adding task end to end (config, data,
// checkpoint, eval of the checkpoint reproducing the run's last validation).
TEST_F(Cli, ATransformerTrainsTheAddingTaskAndEvalReproducesItsValidation) {
  fs::path config = write(
      "t.yaml", "task: adding\nseed: 5\nthreads: 1\nrun_dir: " + (directory_ / "run").string() +
                    "\nmodel: {type: transformer, hidden_size: 32, heads: 1, layers: 1}\n"
                    "data: {sequence_length: 6, batch_size: 4, validation_size: 8}\n"
                    "training: {steps: 4, eval_every: 0, log_every: 1,\n"
                    "  optimizer: {learning_rate: 0.01}, schedule: {warmup_steps: 1}}\n");
  const CommandResult trained = run_seqtrain("train " + config.string() + " --device cpu");
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  EXPECT_NE(read_file(directory_ / "run" / "config.yaml").find("type: transformer"),
            std::string::npos);
  const CommandResult evaluated =
      run_seqtrain("eval " + (directory_ / "run").string() + " --device cpu", false);
  ASSERT_EQ(evaluated.exit_code, 0) << evaluated.output;
  // The run's last validation record and the eval of its final checkpoint agree.
  const std::string metrics = read_file(directory_ / "run" / "metrics.jsonl");
  const std::size_t at = metrics.rfind("\"mse\":");
  ASSERT_NE(at, std::string::npos) << metrics;
  const std::string mse = metrics.substr(at + 6, 8);
  EXPECT_NE(evaluated.output.find(mse), std::string::npos) << evaluated.output << " vs " << mse;
}

// training.precision bf16 trains on a CPU with avx512_bf16 or AMX and is a
// one-line error naming what is missing on any other, before the run
// directory exists.
TEST_F(Cli, Bf16PrecisionTrainsWhereTheCpuHasItAndIsOneLineElsewhere) {
  fs::path config = write("c.yaml", adding_config((directory_ / "run").string(), 3));
  const CommandResult result =
      run_seqtrain("train " + config.string() + " --device cpu --set training.precision=bf16");
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512bf16") || __builtin_cpu_supports("amx-bf16")) {
    ASSERT_EQ(result.exit_code, 0) << result.output;
    EXPECT_NE(read_file(directory_ / "run" / "config.yaml").find("precision: bf16"),
              std::string::npos);
  } else {
    expect_user_error(result, "training.precision bf16 needs a CPU with avx512_bf16 or AMX");
    EXPECT_FALSE(fs::exists(directory_ / "run"));
  }
  expect_user_error(run_seqtrain("train " + config.string() + " --set training.precision=fp16"),
                    "training.precision");
}

// cuDNN's layers are for GPU runs: asking for them on the CPU is a config
// error before anything is written; a run trained with them still evaluates on
// the CPU (the same layers, run by the fused code).
TEST_F(Cli, CudnnLayersTrainOnCudaOnlyAndEvaluateAnywhere) {
  const fs::path run = directory_ / "run";
  fs::path config = write("c.yaml", adding_config(run.string(), 2));
  expect_user_error(
      run_seqtrain("train " + config.string() + " --device cpu --set model.impl=cudnn"),
      "model.impl: cudnn runs on --device cuda only, and this run would use the cpu backend; set "
      "model.impl: fused to train here");
  EXPECT_FALSE(fs::exists(run));

  ASSERT_EQ(run_seqtrain("train " + config.string() + " --device cpu").exit_code, 0);
  const CommandResult fused = run_seqtrain("eval " + run.string() + " --device cpu");
  ASSERT_EQ(fused.exit_code, 0) << fused.output;
  std::string resolved = read_file(run / "config.yaml");
  const std::size_t at = resolved.find("impl: fused");
  ASSERT_NE(at, std::string::npos) << resolved;
  resolved.replace(at, 11, "impl: cudnn");
  std::ofstream(run / "config.yaml") << resolved;
  const CommandResult cudnn = run_seqtrain("eval " + run.string() + " --device cpu");
  ASSERT_EQ(cudnn.exit_code, 0) << cudnn.output;
  EXPECT_EQ(cudnn.output, fused.output);
}

TEST_F(Cli, FreshRunIntoAnExistingRunIsAnError) {
  const fs::path run = directory_ / "run";
  fs::path config = write("c.yaml", adding_config(run.string(), 2));
  ASSERT_EQ(run_seqtrain("train " + config.string()).exit_code, 0);
  expect_user_error(run_seqtrain("train " + config.string()), "--resume");
}

TEST_F(Cli, ShortRunWritesConfigMetricsAndCheckpoint) {
  const fs::path run = directory_ / "run";
  fs::path config = write("c.yaml", adding_config(run.string(), 3));
  CommandResult result = run_seqtrain("train " + config.string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(fs::exists(run / "config.yaml"));
  EXPECT_TRUE(fs::exists(run / "metrics.jsonl"));
  EXPECT_TRUE(fs::exists(run / "checkpoints" / "step_3" / "model.safetensors"));
  // A progress line per logged step in train.log; on the console at most one
  // a second, and the last.
  auto progress = [](int step) {
    return std::regex("step " + std::to_string(step) +
                      R"(/3 loss [0-9.]+ lr [0-9.e+-]+ grad norm [0-9.e+-]+ [0-9]+ tok/s elapsed [0-9]+s eta [0-9]+s)");
  };
  const std::string log = read_file(run / "train.log");
  for (int step = 1; step <= 3; ++step) EXPECT_TRUE(std::regex_search(log, progress(step))) << log;
  EXPECT_TRUE(std::regex_search(result.output, progress(3))) << result.output;
  CommandResult eval = run_seqtrain("eval " + run.string());
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  EXPECT_NE(eval.output.find("\"mse\""), std::string::npos) << eval.output;
}

TEST_F(Cli, CorruptedCheckpointIsAnError) {
  const fs::path run = directory_ / "run";
  fs::path config = write("c.yaml", adding_config(run.string(), 2));
  ASSERT_EQ(run_seqtrain("train " + config.string()).exit_code, 0);
  const fs::path model = run / "checkpoints" / "step_2" / "model.safetensors";
  fs::resize_file(model, fs::file_size(model) / 2);
  expect_user_error(run_seqtrain("eval " + run.string()), "model.safetensors");
}

TEST_F(Cli, MismatchedCheckpointIsAnError) {
  const fs::path run = directory_ / "run";
  fs::path config = write("c.yaml", adding_config(run.string(), 2));
  ASSERT_EQ(run_seqtrain("train " + config.string()).exit_code, 0);
  // Resuming with a different model shape must be refused, not silently reinitialised.
  expect_user_error(run_seqtrain("train " + config.string() + " --resume " + run.string() +
                                 " --set model.hidden_size=16"),
                    "model.hidden_size would be 16, but the run has 8");
}

// The bug this pins: with the newest checkpoint's optimizer file deleted, a
// resume started again from step 0 and later wrote over that checkpoint.
TEST_F(Cli, ResumeRefusesAnIncompleteNewestCheckpointAndLosesNothing) {
  const fs::path run = directory_ / "run";
  fs::path config = write("c.yaml", adding_config(run.string(), 4, 2));
  ASSERT_EQ(run_seqtrain("train " + config.string()).exit_code, 0);
  const fs::path step_4 = run / "checkpoints" / "step_4";
  fs::remove(step_4 / "optimizer.safetensors");
  const std::string weights = read_file(step_4 / "model.safetensors");
  const std::string config_before = read_file(run / "config.yaml");

  CommandResult result =
      run_seqtrain("train --resume " + run.string() + " --set training.steps=8");
  expect_user_error(result, "optimizer.safetensors missing");
  EXPECT_NE(result.output.find("step_2"), std::string::npos) << result.output;
  EXPECT_EQ(result.output.find("starting from step 0"), std::string::npos) << result.output;
  EXPECT_EQ(read_file(step_4 / "model.safetensors"), weights);
  EXPECT_EQ(read_file(run / "config.yaml"), config_before);
  EXPECT_FALSE(fs::exists(run / "checkpoints" / "step_6"));
}

// A kill can leave a temp directory of a half-written save and a stale
// `latest`: a resume removes the one and rewrites the other.
TEST_F(Cli, ResumeClearsInterruptedSavesAndRewritesLatest) {
  const fs::path run = directory_ / "run";
  fs::path config = write("c.yaml", adding_config(run.string(), 2, 2));
  ASSERT_EQ(run_seqtrain("train " + config.string()).exit_code, 0);
  const fs::path root = run / "checkpoints";
  fs::create_directories(root / ".step_3.tmp-Xy12Zw");
  write_file_atomically(root / "latest", "step_3\n");
  // Nothing left to train: only the clean-up happens.
  CommandResult result = run_seqtrain("train --resume " + run.string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_FALSE(fs::exists(root / ".step_3.tmp-Xy12Zw"));
  EXPECT_EQ(read_file(root / "latest"), "step_2\n");
}

void expect_same_weights(const fs::path& a_file, const fs::path& b_file) {
  auto a = read_safetensors(a_file);
  auto b = read_safetensors(b_file);
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (const auto& [name, tensor] : a.tensors) {
    const Tensor& other = b.tensors.at(name);
    ASSERT_EQ(tensor.bytes(), other.bytes()) << name;
    EXPECT_EQ(std::memcmp(tensor.raw(), other.raw(), tensor.bytes()), 0) << name << " differs";
  }
}

// Each resume test runs 2N steps straight (checkpointing at N), then resumes a
// copy of the run from its step-N checkpoint in a new process: step 2N must
// match bit for bit.
TEST_F(Cli, ResumeContinuesBitForBitOnTheAddingProblem) {
  const fs::path straight = directory_ / "straight", resumed = directory_ / "resumed";
  fs::path config = write("a.yaml", adding_config(straight.string(), 8, 4));
  ASSERT_EQ(run_seqtrain("train " + config.string()).exit_code, 0);
  fs::copy(straight, resumed, fs::copy_options::recursive);
  fs::remove_all(resumed / "checkpoints" / "step_8");
  CommandResult second = run_seqtrain("train --resume " + resumed.string());
  ASSERT_EQ(second.exit_code, 0) << second.output;
  expect_same_weights(straight / "checkpoints" / "step_8" / "model.safetensors",
                      resumed / "checkpoints" / "step_8" / "model.safetensors");
}

TEST_F(Cli, ResumeContinuesBitForBitWithCarriedCharLmState) {
  std::string corpus;
  for (int i = 0; i < 200; ++i) corpus += "the quick brown fox " + std::to_string(i % 7) + " jumps\n";
  write("corpus.txt", corpus);
  const fs::path straight = directory_ / "straight", resumed = directory_ / "resumed";
  fs::path config = write(
      "charlm.yaml",
      "task: charlm\nseed: 9\nthreads: 1\nrun_dir: " + straight.string() +
          "\nmodel: {cell: lstm, hidden_size: 12, embedding_size: 6, layers: 2, dropout: 0.1}\n"
          "data: {path: " + (directory_ / "corpus.txt").string() +
          ", sequence_length: 7, batch_size: 3}\n"
          "training: {steps: 10, checkpoint_every: 5, eval_every: 5, eval_batches: 2, log_every: 1, "
          "gradient_accumulation: 2}\n");
  ASSERT_EQ(run_seqtrain("train " + config.string()).exit_code, 0);
  // The carried state is binary, beside a small trainer_state.json.
  const fs::path step_5 = straight / "checkpoints" / "step_5";
  const nlohmann::json state = nlohmann::json::parse(read_file(step_5 / "trainer_state.json"));
  EXPECT_FALSE(state["trainer"].contains("carried_state"));
  EXPECT_EQ(state["trainer"]["carried_state_tensors"], 4);  // h and c of two layers
  // A checkpoint of an earlier version, with the state as JSON numbers, resumes too.
  const fs::path old_format = directory_ / "old_format";
  fs::copy(straight, old_format, fs::copy_options::recursive);
  fs::remove_all(old_format / "checkpoints" / "step_10");
  {
    nlohmann::json old_state = state;
    old_state.erase("tensors_file");
    old_state["trainer"].erase("carried_state_tensors");
    const SafetensorsContents carried = read_safetensors(step_5 / "trainer_state.safetensors");
    for (int i = 0; i < 4; ++i) {
      const Tensor& tensor = carried.tensors.at("carried_state." + std::to_string(i));
      old_state["trainer"]["carried_state"].push_back(
          {{"shape", tensor.shape()}, {"values", tensor.to_vector()}});
    }
    write_file_atomically(old_format / "checkpoints" / "step_5" / "trainer_state.json",
                          old_state.dump());
    fs::remove(old_format / "checkpoints" / "step_5" / "trainer_state.safetensors");
  }
  fs::copy(straight, resumed, fs::copy_options::recursive);
  fs::remove_all(resumed / "checkpoints" / "step_10");
  CommandResult second = run_seqtrain("train --resume " + resumed.string());
  ASSERT_EQ(second.exit_code, 0) << second.output;
  expect_same_weights(straight / "checkpoints" / "step_10" / "model.safetensors",
                      resumed / "checkpoints" / "step_10" / "model.safetensors");
  CommandResult from_old = run_seqtrain("train --resume " + old_format.string());
  ASSERT_EQ(from_old.exit_code, 0) << from_old.output;
  expect_same_weights(straight / "checkpoints" / "step_10" / "model.safetensors",
                      old_format / "checkpoints" / "step_10" / "model.safetensors");
  // The replayed steps 6-10 appear once each in metrics.jsonl, and every
  // record says when it was written.
  std::map<std::pair<std::int64_t, std::string>, int> seen;
  std::istringstream records(read_file(resumed / "metrics.jsonl"));
  for (std::string line; std::getline(records, line);) {
    const nlohmann::json record = nlohmann::json::parse(line);
    EXPECT_TRUE(record.contains("time") && record.contains("elapsed_seconds")) << line;
    ++seen[{record["step"].get<std::int64_t>(), record["split"].get<std::string>()}];
  }
  for (const auto& [key, count] : seen)
    EXPECT_EQ(count, 1) << "step " << key.first << " " << key.second;
  EXPECT_EQ(seen.count({10, "train"}), 1u);
  CommandResult sample =
      run_seqtrain("generate " + resumed.string() + " --prompt the --length 20 --seed 3", false);
  EXPECT_EQ(sample.exit_code, 0) << sample.output;
  EXPECT_EQ(sample.output.rfind("the", 0), 0u) << sample.output;
}

// --checkpoint step_N names a checkpoint of the run, wherever seqtrain is run
// from; a path that is not one is the error it was.
TEST_F(Cli, ACheckpointNameIsLookedForInTheRunDirectoryFirst) {
  fs::path config = write("c.yaml", adding_config((directory_ / "run").string(), 4, 2));
  ASSERT_EQ(run_seqtrain("train " + config.string() + " --device cpu").exit_code, 0);
  const std::string run = (directory_ / "run").string();
  const CommandResult by_name = run_seqtrain("eval " + run + " --checkpoint step_2", false);
  ASSERT_EQ(by_name.exit_code, 0) << by_name.output;
  EXPECT_NE(by_name.output.find((directory_ / "run" / "checkpoints" / "step_2").string()),
            std::string::npos)
      << by_name.output;
  const CommandResult missing = run_seqtrain("eval " + run + " --checkpoint step_3");
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
  EXPECT_NE(missing.output.find("step_3"), std::string::npos) << missing.output;
}

// generate: without --seed each call draws a new seed and prints it, and that
// seed draws the same sample again; --greedy needs no seed and repeats.
TEST_F(Cli, GenerateSeedsEachCallUnlessToldAndGreedyRepeats) {
  std::string corpus;
  for (int i = 0; i < 200; ++i) corpus += "the cat sat on the mat " + std::to_string(i % 7) + "\n";
  write("corpus.txt", corpus);
  const fs::path run = directory_ / "run";
  fs::path config = write(
      "charlm.yaml",
      "task: charlm\nseed: 9\nthreads: 1\nrun_dir: " + run.string() +
          "\nmodel: {cell: lstm, hidden_size: 8, embedding_size: 4}\n"
          "data: {path: " + (directory_ / "corpus.txt").string() +
          ", sequence_length: 8, batch_size: 4}\n"
          "training: {steps: 3, eval_every: 0, eval_batches: 1}\n");
  ASSERT_EQ(run_seqtrain("train " + config.string()).exit_code, 0);
  // charlm's validation counts the characters it predicted, and says so.
  const std::string metrics = read_file(run / "metrics.jsonl");
  EXPECT_NE(metrics.find("\"characters\":"), std::string::npos) << metrics;
  EXPECT_EQ(metrics.find("\"examples\":"), std::string::npos) << metrics;
  const std::string generate = "generate " + run.string() + " --prompt the --length 30";
  const CommandResult first = run_seqtrain(generate);
  const CommandResult second = run_seqtrain(generate);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const std::size_t at = first.output.find("sampling seed ");
  ASSERT_NE(at, std::string::npos) << first.output;
  const std::string seed = first.output.substr(at + 14, first.output.find(' ', at + 14) - at - 14);
  EXPECT_EQ(second.output.find("sampling seed " + seed + " "), std::string::npos)
      << "two calls drew the same seed " << seed;
  // The printed seed draws the first sample again (stdout only).
  const CommandResult again = run_seqtrain(generate + " --seed " + seed, false);
  ASSERT_EQ(again.exit_code, 0);
  EXPECT_NE(first.output.find(again.output), std::string::npos)
      << first.output << " vs " << again.output;
  const CommandResult greedy = run_seqtrain(generate + " --greedy", false);
  EXPECT_EQ(greedy.output, run_seqtrain(generate + " --greedy", false).output);
  EXPECT_EQ(greedy.output.rfind("the", 0), 0u) << greedy.output;
}

// model.type transformer for charlm (causal attention): train, eval of the
// final checkpoint reproducing the run's last validation (eval_batches covers
// the whole validation split, as eval does), and generate with a
// prompt longer than the model's window of sequence_length positions (each
// step re-encodes the last 8 characters). training.carry_state true is a
// one-line error before the run directory exists.
TEST_F(Cli, ATransformerCharLmTrainsEvaluatesAndGenerates) {
  std::string corpus;
  for (int i = 0; i < 200; ++i) corpus += "the cat sat on the mat " + std::to_string(i % 7) + "\n";
  write("corpus.txt", corpus);
  const fs::path run = directory_ / "run";
  const std::string text =
      "task: charlm\nseed: 9\nthreads: 1\nrun_dir: " + run.string() +
      "\nmodel: {type: transformer, hidden_size: 32, heads: 1, layers: 1, dropout: 0.1}\n"
      "data: {path: " + (directory_ / "corpus.txt").string() +
      ", sequence_length: 8, batch_size: 4}\n"
      "training: {steps: 4, eval_every: 2, eval_batches: 100, log_every: 1,\n"
      "  optimizer: {learning_rate: 0.01}, schedule: {warmup_steps: 1}}\n";
  const fs::path config = write("charlm.yaml", text);
  expect_user_error(run_seqtrain("train " + config.string() + " --set training.carry_state=true"),
                    "training.carry_state=true: is for the recurrent types; a transformer carries "
                    "no state");
  EXPECT_FALSE(fs::exists(run));
  const CommandResult trained = run_seqtrain("train " + config.string() + " --device cpu");
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  EXPECT_NE(read_file(run / "config.yaml").find("carry_state: false"), std::string::npos);
  const CommandResult evaluated = run_seqtrain("eval " + run.string() + " --device cpu", false);
  ASSERT_EQ(evaluated.exit_code, 0) << evaluated.output;
  const std::string metrics = read_file(run / "metrics.jsonl");
  const std::size_t at = metrics.rfind("\"bits_per_char\":");
  ASSERT_NE(at, std::string::npos) << metrics;
  const std::string bits = metrics.substr(at + 16, 8);
  EXPECT_NE(evaluated.output.find(bits), std::string::npos) << evaluated.output << " vs " << bits;

  const std::string prompt = "the cat sat on";  // 14 characters, window 8
  const std::string generate =
      "generate " + run.string() + " --device cpu --prompt '" + prompt + "' --length 20";
  const CommandResult greedy = run_seqtrain(generate + " --greedy", false);
  ASSERT_EQ(greedy.exit_code, 0) << greedy.output;
  EXPECT_EQ(greedy.output.rfind(prompt, 0), 0u) << greedy.output;
  EXPECT_GE(greedy.output.size(), prompt.size() + 20) << greedy.output;
  EXPECT_EQ(greedy.output, run_seqtrain(generate + " --greedy", false).output);
  const CommandResult sampled = run_seqtrain(generate + " --seed 4", false);
  ASSERT_EQ(sampled.exit_code, 0) << sampled.output;
  EXPECT_EQ(sampled.output, run_seqtrain(generate + " --seed 4", false).output);
}

// A trainer_state.json whose carried_state has a negative or a wrong shape
// ended with exit 70 ("This is a bug in seqtrain"): it is bad input.
TEST_F(Cli, BadCarriedStateInACheckpointIsAOneLineError) {
  std::string corpus;
  for (int i = 0; i < 100; ++i) corpus += "a carried state " + std::to_string(i % 5) + "\n";
  write("corpus.txt", corpus);
  const fs::path run = directory_ / "run";
  fs::path config = write(
      "charlm.yaml",
      "task: charlm\nseed: 9\nthreads: 1\nrun_dir: " + run.string() +
          "\nmodel: {cell: lstm, hidden_size: 4, embedding_size: 3}\n"
          "data: {path: " + (directory_ / "corpus.txt").string() +
          ", sequence_length: 5, batch_size: 2}\n"
          "training: {steps: 2, checkpoint_every: 2, eval_every: 0, eval_batches: 1}\n");
  ASSERT_EQ(run_seqtrain("train " + config.string()).exit_code, 0);
  const fs::path checkpoint = run / "checkpoints" / "step_2";
  const fs::path state_file = checkpoint / "trainer_state.json";
  const fs::path tensors_file = checkpoint / "trainer_state.safetensors";
  const nlohmann::json original = nlohmann::json::parse(read_file(state_file));
  ASSERT_EQ(original["trainer"]["carried_state_tensors"], 2);  // h and c of one layer
  const SafetensorsContents carried = read_safetensors(tensors_file);
  const Tensor& h = carried.tensors.at("carried_state.0");
  const Tensor& c = carried.tensors.at("carried_state.1");
  auto resume_fails_with = [&](const std::string& fragment) {
    const CommandResult result =
        run_seqtrain("train --resume " + run.string() + " --set training.steps=3");
    expect_user_error(result, fragment);
    EXPECT_EQ(result.output.find("bug in seqtrain"), std::string::npos) << result.output;
  };
  const Tensor wrong = Tensor::from_vector(std::vector<float>(8, 0.5f), {4, 2});
  write_safetensors(tensors_file, {{"carried_state.0", wrong}, {"carried_state.1", c}});
  resume_fails_with("[4, 2]");
  write_safetensors(tensors_file, {{"carried_state.0", h}});
  resume_fails_with("trainer_state.safetensors has no tensor 'carried_state.1'");
  fs::remove(tensors_file);
  resume_fails_with("trainer_state.safetensors");

  // Checkpoints of earlier versions keep the state as JSON numbers.
  const std::vector<std::pair<nlohmann::json, std::string>> bad = {
      {{{"shape", {-2, -4}}, {"values", std::vector<float>(8, 0.5f)}}, "must be >= 1"},
      {{{"shape", {4, 2}}, {"values", std::vector<float>(8, 0.5f)}}, "[4, 2]"},
  };
  for (const auto& [tensor, fragment] : bad) {
    nlohmann::json state = original;
    state.erase("tensors_file");
    state["trainer"].erase("carried_state_tensors");
    state["trainer"]["carried_state"] = nlohmann::json::array({tensor, tensor});
    write_file_atomically(state_file, state.dump());
    resume_fails_with(fragment);
  }
}

TEST_F(Cli, InterruptSavesACheckpointAndExits130) {
  const fs::path run = directory_ / "run";
  fs::path config = write("c.yaml", adding_config(run.string(), 1000000));
  const std::string command = std::string(SEQTRAIN_BINARY) + " train " + config.string() +
                              " > /dev/null 2>&1 & pid=$!; sleep 2; kill -INT $pid; wait $pid";
  const int status = std::system(command.c_str());
  EXPECT_EQ(WEXITSTATUS(status), 130);
  EXPECT_TRUE(fs::exists(run / "checkpoints" / "latest"));
}

}  // namespace
}  // namespace seqtrain
