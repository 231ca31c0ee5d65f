// `seqtrain train` / `eval` for masked-LM pretraining end to end, on a tiny
// BERT and a corpus the test generates: the run prepares its tokenizer and
// shards once and reuses them; checkpoints carry Hugging Face names with
// config.json; eval of a checkpoint reproduces the run's own validation
// record; N + resume + N steps equals 2N bit for bit across a phase change;
// init_from starts from a checkpoint's weights with a fresh optimizer; bad
// input is one line and exit code 2.
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "cli_test_support.h"
#include "data/sentencepiece_tokenizer.h"
#include "data_mlm_test_support.h"
#include "data_test_support.h"
#include "io/safetensors.h"

namespace seqtrain {
namespace {

namespace fs = std::filesystem;

using testing::CommandResult;
using testing::run_seqtrain;

std::vector<nlohmann::json> read_metrics(const fs::path& run) {
  std::ifstream file(run / "metrics.jsonl");
  std::vector<nlohmann::json> records;
  for (std::string line; std::getline(file, line);) records.push_back(nlohmann::json::parse(line));
  return records;
}

void expect_same_file(const fs::path& a, const fs::path& b) {
  std::ifstream first(a, std::ios::binary), second(b, std::ios::binary);
  std::stringstream a_bytes, b_bytes;
  a_bytes << first.rdbuf();
  b_bytes << second.rdbuf();
  EXPECT_FALSE(a_bytes.str().empty()) << a;
  EXPECT_TRUE(a_bytes.str() == b_bytes.str()) << a << " and " << b << " differ";
}

class CliMlm : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    directory_ = fs::temp_directory_path() / (std::string("seqtrain_cli_mlm_") + info->name() +
                                              "_" + std::to_string(::getpid()));
    fs::remove_all(directory_);
    fs::create_directories(directory_);
    corpus_ = directory_ / "corpus.txt";
    std::ofstream(corpus_) << testing::generated_corpus(200);
  }
  void TearDown() override { fs::remove_all(directory_); }

  // A one-layer BERT (head dimension 32) with two phases: 3 steps at length
  // 16, then length 24; 8 steps, a checkpoint every 2.
  fs::path write_config(const std::string& name, const fs::path& run_dir,
                        const std::string& tokenizer = "{vocab_size: " +
                                                       std::to_string(testing::kSmallVocabSize) +
                                                       "}") {
    const fs::path path = directory_ / name;
    std::ofstream(path)
        << "task: mlm\nseed: 3\nthreads: 1\nrun_dir: " << run_dir.string() << "\n"
        << "model:\n  bert: {hidden_size: 64, layers: 1, heads: 2, intermediate_size: 64, "
           "max_positions: 32}\n"
        << "data:\n  path: " << corpus_.string() << "\n  validation_fraction: 0.1\n"
        << "  tokenizer: " << tokenizer << "\n"
        << "  phases:\n    - {steps: 3, sequence_length: 16, batch_size: 4}\n"
        << "    - {steps: 5, sequence_length: 24, batch_size: 2}\n"
        << "training:\n  steps: 8\n  eval_every: 4\n  eval_batches: 1000\n"
        << "  checkpoint_every: 2\n  log_every: 1\n  gradient_accumulation: 2\n"
        << "  optimizer: {learning_rate: 1.0e-3}\n";
    return path;
  }

  void expect_user_error(const CommandResult& result, const std::string& fragment) {
    EXPECT_EQ(result.exit_code, 2) << result.output;
    EXPECT_NE(result.output.find(fragment), std::string::npos) << result.output;
    EXPECT_EQ(result.output.find("internal error"), std::string::npos) << result.output;
  }

  fs::path directory_;
  fs::path corpus_;
};

TEST_F(CliMlm, TrainWritesHuggingFaceCheckpointsAndEvalReproducesValidation) {
  const fs::path run = directory_ / "run";
  const CommandResult trained = run_seqtrain("train " + write_config("c.yaml", run).string());
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  EXPECT_NE(trained.output.find("masked-LM data prepared into"), std::string::npos)
      << trained.output;
  // Set-up says what it does while SentencePiece trains silently.
  EXPECT_NE(trained.output.find("data preparation: training a " +
                                std::to_string(testing::kSmallVocabSize) +
                                "-piece SentencePiece tokenizer on"),
            std::string::npos)
      << trained.output;
  EXPECT_NE(trained.output.find("data preparation: tokenizer trained in"), std::string::npos)
      << trained.output;

  const fs::path last = run / "checkpoints" / "step_8";
  for (const char* file : {"model.safetensors", "optimizer.safetensors", "trainer_state.json",
                           "config.json", "tokenizer.model"})
    EXPECT_TRUE(fs::exists(last / file)) << file;
  const SafetensorsContents model = read_safetensors(last / "model.safetensors");
  for (const char* name :
       {"bert.embeddings.word_embeddings.weight",
        "bert.encoder.layer.0.attention.self.query.weight",
        "bert.encoder.layer.0.attention.self.value.bias", "cls.predictions.bias"})
    EXPECT_TRUE(model.tensors.contains(name)) << name;
  EXPECT_EQ(model.tensors.at("bert.encoder.layer.0.attention.self.key.weight").shape(),
            (Shape{64, 64}));
  std::ifstream config_file(last / "config.json");
  const nlohmann::json config = nlohmann::json::parse(config_file);
  EXPECT_EQ(config.at("vocab_size"), testing::kSmallVocabSize);
  EXPECT_EQ(config.at("num_hidden_layers"), 1);

  // Training and validation records carry the masked-LM metrics.
  nlohmann::json last_train, last_validation;
  for (const nlohmann::json& record : read_metrics(run)) {
    (record.at("split") == "train" ? last_train : last_validation) = record;
    // Phases count optimizer steps, each of gradient_accumulation (2)
    // micro-batches: steps 1-3 at length 16, 4-8 at 24, never a mix.
    if (record.at("split") == "train") {
      EXPECT_EQ(record.at("sequence_length"), record.at("step").get<int>() <= 3 ? 16 : 24)
          << record.dump();
    }
  }
  for (const auto& [step, phase] : {std::pair{2, 0}, std::pair{4, 1}}) {
    std::ifstream state_file(run / "checkpoints" / ("step_" + std::to_string(step)) /
                             "trainer_state.json");
    const nlohmann::json position =
        nlohmann::json::parse(state_file).at("trainer").at("data_position");
    EXPECT_EQ(position.at("phase"), phase) << position.dump();
    EXPECT_EQ(position.at("batches"), 2 * step) << position.dump();
  }
  for (const char* key : {"mlm_loss", "mlm_accuracy", "perplexity", "tokens_per_second"})
    EXPECT_TRUE(last_train.contains(key)) << key << " in " << last_train.dump();
  ASSERT_EQ(last_validation.at("step"), 8);
  EXPECT_EQ(last_validation.at("sequence_length"), 24);
  EXPECT_NEAR(last_validation.at("perplexity").get<double>(),
              std::exp(last_validation.at("mlm_loss").get<double>()), 1e-9);
  EXPECT_GT(last_validation.at("masked_tokens").get<int>(), 0);
  // The [MASK] inputs are a part of the masked tokens (80% in expectation).
  EXPECT_GT(last_validation.at("mask_input_tokens").get<int>(), 0);
  EXPECT_LT(last_validation.at("mask_input_tokens").get<int>(),
            last_validation.at("masked_tokens").get<int>());

  // eval loads the Hugging Face-named checkpoint in a new process, reuses the
  // prepared data and must see exactly the run's last validation.
  const CommandResult evaluated = run_seqtrain("eval " + run.string(), false);
  ASSERT_EQ(evaluated.exit_code, 0) << evaluated.output;
  const nlohmann::json eval = nlohmann::json::parse(evaluated.output);
  for (const char* key : {"mlm_loss", "mlm_accuracy", "perplexity", "masked_tokens",
                          "majority_token_accuracy", "mask_input_tokens", "mlm_accuracy_at_mask",
                          "majority_token_accuracy_at_mask", "mlm_loss_at_mask"})
    EXPECT_EQ(eval.at(key), last_validation.at(key)) << key;
  EXPECT_NE(run_seqtrain("eval " + run.string()).output.find("masked-LM data reused from"),
            std::string::npos);
}

// seqtrain predict on an mlm run fills each [MASK] of a line: one entry per
// [MASK], at the position `seqtrain tokenizer encode` puts it (after [CLS]),
// its tokens in falling probability, the line filled with the likeliest ones.
TEST_F(CliMlm, PredictFillsEveryMaskOfALine) {
  const fs::path run = directory_ / "run";
  ASSERT_EQ(run_seqtrain("train " + write_config("c.yaml", run).string()).exit_code, 0);
  const fs::path input = directory_ / "input.txt";
  std::ofstream(input) << "the [MASK] of the [MASK] corpus\nno mask in this line\n";
  const CommandResult encoded = run_seqtrain(
      "tokenizer encode --tokenizer " + (run / "checkpoints" / "step_8").string() + " --input " +
          input.string(),
      false);
  ASSERT_EQ(encoded.exit_code, 0) << encoded.output;
  const nlohmann::json ids = nlohmann::json::parse(encoded.output.substr(0, encoded.output.find('\n')));
  std::vector<std::int64_t> mask_positions;
  for (std::size_t t = 0; t < ids.size(); ++t)
    if (ids[t] == kMaskTokenId) mask_positions.push_back(static_cast<std::int64_t>(t) + 1);
  ASSERT_EQ(mask_positions.size(), 2u);

  const CommandResult predicted =
      run_seqtrain("predict " + run.string() + " --top-k 4 --input " + input.string(), false);
  ASSERT_EQ(predicted.exit_code, 0) << predicted.output;
  std::istringstream lines(predicted.output);
  std::string first, second;
  std::getline(lines, first);
  std::getline(lines, second);
  const nlohmann::json filled = nlohmann::json::parse(first);
  ASSERT_EQ(filled["masks"].size(), 2u);
  for (std::size_t m = 0; m < 2; ++m) {
    const nlohmann::json& mask = filled["masks"][m];
    EXPECT_EQ(mask["position"], mask_positions[m]);
    ASSERT_EQ(mask["predictions"].size(), 4u);
    double total = 0.0, previous = 1.0;
    for (const nlohmann::json& prediction : mask["predictions"]) {
      const double p = prediction["probability"].get<double>();
      EXPECT_LE(p, previous);
      previous = p;
      total += p;
      EXPECT_GE(prediction["id"].get<int>(), 0);
    }
    EXPECT_LE(total, 1.0 + 1e-9);
  }
  EXPECT_EQ(nlohmann::json::parse(second)["masks"].size(), 0u);
  EXPECT_FALSE(nlohmann::json::parse(second).contains("filled"));
  EXPECT_TRUE(filled["filled"].get<std::string>().starts_with("the")) << filled;
}

// SIGTERM during set-up (SentencePiece training on a larger corpus) killed
// the process by the signal (status 143): the handlers are installed first,
// the run stops with 130 when set-up ends, and --resume continues it.
TEST_F(CliMlm, SigtermDuringSetupStopsCleanlyAndTheRunResumes) {
  {  // about 9 MB: preparing it takes seconds, so the signal lands in set-up
    std::ofstream corpus(corpus_);
    const std::string documents = testing::generated_corpus(4000);
    for (int copy = 0; copy < 10; ++copy) corpus << documents;
  }
  const fs::path run = directory_ / "run";
  const fs::path config = write_config("c.yaml", run);
  const fs::path log = directory_ / "stopped.log";
  const std::string command = "OMP_WAIT_POLICY=passive " + std::string(SEQTRAIN_BINARY) +
                              " train " + config.string() +
                              " --set training.steps=100000 --set training.schedule.warmup_steps=0"
                              " > " + log.string() + " 2>&1 & pid=$!; sleep 1; "
                              "kill -TERM $pid; wait $pid";
  const int status = std::system(command.c_str());
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 130);
  std::ifstream log_file(log);
  const std::string output((std::istreambuf_iterator<char>(log_file)), {});
  EXPECT_NE(output.find("stopped by signal 15 before training step 1"), std::string::npos)
      << output;
  const CommandResult resumed =
      run_seqtrain("train --resume " + run.string() + " --set training.steps=2");
  EXPECT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("masked-LM data reused"), std::string::npos) << resumed.output;
}

// A second SIGTERM ends the process at once, as the signal would, instead of
// waiting for set-up to end.
TEST_F(CliMlm, ASecondSignalDuringSetupEndsTheProcessAtOnce) {
  {
    std::ofstream corpus(corpus_);
    const std::string documents = testing::generated_corpus(4000);
    for (int copy = 0; copy < 10; ++copy) corpus << documents;
  }
  const fs::path config = write_config("c.yaml", directory_ / "run");
  const std::string command = "OMP_WAIT_POLICY=passive " + std::string(SEQTRAIN_BINARY) +
                              " train " + config.string() +
                              " > /dev/null 2>&1 & pid=$!; sleep 1; kill -TERM $pid; "
                              "sleep 0.2; kill -TERM $pid; wait $pid";
  const int status = std::system(command.c_str());
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGTERM);  // the shell's status for a signalled child
}

TEST_F(CliMlm, ResumeContinuesBitForBitAcrossAPhaseChange) {
  const fs::path straight = directory_ / "straight", resumed = directory_ / "resumed";
  ASSERT_EQ(run_seqtrain("train " + write_config("c.yaml", straight).string()).exit_code, 0);
  fs::copy(straight, resumed, fs::copy_options::recursive);
  // Resume from step 2, in phase 1: steps 3-8 cross into phase 2.
  for (int step : {4, 6, 8})
    fs::remove_all(resumed / "checkpoints" / ("step_" + std::to_string(step)));
  const CommandResult second = run_seqtrain("train --resume " + resumed.string());
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_NE(second.output.find("at step 2"), std::string::npos) << second.output;
  for (const char* file : {"model.safetensors", "optimizer.safetensors"})
    expect_same_file(straight / "checkpoints" / "step_8" / file,
                     resumed / "checkpoints" / "step_8" / file);
}

// The run's data cache is rebuilt (tokenizer included) when the corpus
// changes; the checkpoint's weights belong to the old tokenizer, so resume and
// eval refuse instead of silently reading other token ids.
TEST_F(CliMlm, ACheckpointFromAnotherTokenizerIsRefused) {
  const fs::path run = directory_ / "run";
  ASSERT_EQ(run_seqtrain("train " + write_config("c.yaml", run).string() +
                         " --set training.steps=2")
                .exit_code,
            0);
  std::ofstream(corpus_) << testing::generated_corpus(300, 99);
  expect_user_error(run_seqtrain("train --resume " + run.string() + " --set training.steps=4"),
                    "trained with another tokenizer");
  expect_user_error(run_seqtrain("eval " + run.string()), "trained with another tokenizer");
  EXPECT_FALSE(fs::exists(run / "checkpoints" / "step_4"));
}

TEST_F(CliMlm, InitFromStartsFromACheckpointsWeightsWithAFreshOptimizer) {
  const fs::path source = directory_ / "source", run = directory_ / "run";
  ASSERT_EQ(run_seqtrain("train " + write_config("source.yaml", source).string()).exit_code, 0);
  const fs::path from = source / "checkpoints" / "step_8";
  // One step at a learning rate far below the weights' float resolution:
  // the weights stay those of `from`; the optimizer and step start afresh.
  const CommandResult started = run_seqtrain(
      "train " + write_config("run.yaml", run).string() + " --set training.steps=1" +
      " --set training.optimizer.learning_rate=1e-20 --set training.init_from=" + from.string() +
      " --set 'data.phases=[{steps: 1, sequence_length: 16, batch_size: 4}]'");
  ASSERT_EQ(started.exit_code, 0) << started.output;
  EXPECT_NE(started.output.find("initialised from"), std::string::npos) << started.output;
  const SafetensorsContents before = read_safetensors(from / "model.safetensors");
  const SafetensorsContents after =
      read_safetensors(run / "checkpoints" / "step_1" / "model.safetensors");
  ASSERT_EQ(before.tensors.size(), after.tensors.size());
  for (const auto& [name, tensor] : before.tensors) {
    const std::vector<float> expected = tensor.to_vector();
    const std::vector<float> actual = after.tensors.at(name).to_vector();
    ASSERT_EQ(expected.size(), actual.size()) << name;
    for (std::size_t i = 0; i < expected.size(); ++i)
      ASSERT_NEAR(actual[i], expected[i], 1e-6f) << name << "[" << i << "]";
  }
  std::ifstream state_file(run / "checkpoints" / "step_1" / "trainer_state.json");
  const nlohmann::json state = nlohmann::json::parse(state_file);
  EXPECT_EQ(state.at("step"), 1);
  EXPECT_EQ(state.at("optimizer").at("step_count"), 1);

  // The same weights stored as bf16 (truncated, so the expected floats are
  // exact) are read as f32.
  const fs::path bf16_from = directory_ / "bf16_from", bf16_run = directory_ / "bf16_run";
  fs::create_directories(bf16_from);
  for (const char* file : {"config.json", "tokenizer.model"})
    fs::copy_file(from / file, bf16_from / file);
  std::vector<NamedTensor> truncated;
  for (const auto& [name, tensor] : before.tensors) {
    Tensor bf16 = Tensor::empty(tensor.shape(), DType::bf16);
    const std::vector<float> values = tensor.to_vector();
    for (std::size_t i = 0; i < values.size(); ++i) {
      std::uint32_t word;
      std::memcpy(&word, &values[i], 4);
      static_cast<std::uint16_t*>(bf16.raw())[i] = static_cast<std::uint16_t>(word >> 16);
    }
    truncated.push_back({name, std::move(bf16)});
  }
  write_safetensors(bf16_from / "model.safetensors", truncated);
  const CommandResult from_bf16 = run_seqtrain(
      "train " + write_config("bf16.yaml", bf16_run).string() + " --set training.steps=1" +
      " --set training.optimizer.learning_rate=1e-20 --set training.init_from=" +
      bf16_from.string() + " --set 'data.phases=[{steps: 1, sequence_length: 16, batch_size: 4}]'");
  ASSERT_EQ(from_bf16.exit_code, 0) << from_bf16.output;
  const SafetensorsContents read_back =
      read_safetensors(bf16_run / "checkpoints" / "step_1" / "model.safetensors");
  for (const NamedTensor& expected : truncated) {
    const std::vector<float> want = expected.tensor.to_vector();
    const std::vector<float> got = read_back.tensors.at(expected.name).to_vector();
    ASSERT_EQ(want.size(), got.size()) << expected.name;
    for (std::size_t i = 0; i < want.size(); ++i)
      ASSERT_NEAR(got[i], want[i], 1e-6f) << expected.name << "[" << i << "]";
  }
}

TEST_F(CliMlm, BadInitFromAndCorpusAreOneLineErrors) {
  const fs::path source = directory_ / "source";
  ASSERT_EQ(run_seqtrain("train " + write_config("source.yaml", source).string() +
                         " --set training.steps=4")
                .exit_code,
            0);
  const fs::path from = source / "checkpoints" / "step_4";
  expect_user_error(
      run_seqtrain(
          "train " + write_config("wide.yaml", directory_ / "wide").string() +
          " --set model.bert.intermediate_size=128 --set training.init_from=" + from.string()),
      "intermediate_size 64 where this run has 128 (model.bert.intermediate_size)");
  expect_user_error(
      run_seqtrain(
          "train " + write_config("vocab.yaml", directory_ / "vocab").string() +
          " --set data.tokenizer.vocab_size=100 --set training.init_from=" + from.string()),
      "vocab_size 120 where this run has 100 (the tokenizer's vocabulary size)");
  expect_user_error(
      run_seqtrain("train " + write_config("none.yaml", directory_ / "none").string() +
                   " --set training.init_from=" + (directory_ / "nowhere").string()),
      "no config.json there");
  expect_user_error(
      run_seqtrain("train " + write_config("corpus.yaml", directory_ / "corpus").string() +
                   " --set data.path=" + (directory_ / "missing.txt").string()),
      "missing.txt");
  expect_user_error(
      run_seqtrain("train " + write_config("phase.yaml", directory_ / "phase").string() +
                   " --set 'data.phases=[{steps: 1, sequence_length: 64, batch_size: 2}]'"),
      "exceeds model.bert.max_positions (32)");
  // A start that fails in setup (data, init_from) leaves no run directory that
  // would refuse the retry; one that existed empty stays, empty.
  for (const char* name : {"wide", "vocab", "none", "corpus", "phase"})
    EXPECT_FALSE(fs::exists(directory_ / name)) << name;
  fs::create_directories(directory_ / "empty");
  expect_user_error(
      run_seqtrain("train " + write_config("empty.yaml", directory_ / "empty").string() +
                   " --set data.path=" + (directory_ / "missing.txt").string()),
      "missing.txt");
  ASSERT_TRUE(fs::is_directory(directory_ / "empty"));
  EXPECT_TRUE(fs::is_empty(directory_ / "empty"));
  const CommandResult retry =
      run_seqtrain("train " + (directory_ / "empty.yaml").string() + " --set training.steps=2");
  EXPECT_EQ(retry.exit_code, 0) << retry.output;
}

TEST_F(CliMlm, PreLayerNormRunsKeepSeqtrainNamesAndResumeBitForBit) {
  const fs::path straight = directory_ / "straight", resumed = directory_ / "resumed";
  const std::string pre_ln = " --set model.bert.pre_layernorm=true --set training.steps=4";
  ASSERT_EQ(run_seqtrain("train " + write_config("c.yaml", straight).string() + pre_ln).exit_code,
            0);
  const fs::path last = straight / "checkpoints" / "step_4";
  EXPECT_FALSE(fs::exists(last / "config.json"));  // Hugging Face has no pre-LN BERT
  EXPECT_TRUE(fs::exists(last / "tokenizer.model"));
  EXPECT_TRUE(read_safetensors(last / "model.safetensors")
                  .tensors.contains("bert.encoder.final_layernorm.weight"));
  fs::copy(straight, resumed, fs::copy_options::recursive);
  fs::remove_all(resumed / "checkpoints" / "step_4");
  ASSERT_EQ(run_seqtrain("train --resume " + resumed.string()).exit_code, 0);
  expect_same_file(last / "model.safetensors",
                   resumed / "checkpoints" / "step_4" / "model.safetensors");
  EXPECT_EQ(run_seqtrain("eval " + resumed.string(), false).exit_code, 0);
}

TEST_F(CliMlm, AGivenTokenizerIsUsedAndItsShardsReused) {
  const fs::path tokenizer = directory_ / "tokenizer";
  ASSERT_EQ(run_seqtrain("tokenizer train --input " + corpus_.string() + " --vocab-size 100 " +
                         "--output " + tokenizer.string())
                .exit_code,
            0);
  const std::string given = "{path: " + tokenizer.string() + "}";
  const std::string use_cache =
      " --set training.steps=2 --set data.cache_dir=" + (directory_ / "cache").string();
  const CommandResult first =
      run_seqtrain("train " + write_config("a.yaml", directory_ / "a", given).string() + use_cache);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_NE(first.output.find("(100 pieces)"), std::string::npos) << first.output;
  EXPECT_NE(first.output.find("prepared into"), std::string::npos) << first.output;
  const std::string phase_warning =
      "phase 2 (sequence length 24) starts after step 3, but training.steps is 2: it will not run";
  EXPECT_NE(first.output.find(phase_warning), std::string::npos) << first.output;
  // Said once, by the training run; eval does not repeat it.
  EXPECT_EQ(first.output.find(phase_warning), first.output.rfind(phase_warning)) << first.output;
  const CommandResult second =
      run_seqtrain("train " + write_config("b.yaml", directory_ / "b", given).string() + use_cache);
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_NE(second.output.find("reused from"), std::string::npos) << second.output;
  // Its corpus gone, the run is still evaluated from its prepared shards.
  fs::rename(corpus_, directory_ / "moved.txt");
  const CommandResult evaluated = run_seqtrain("eval " + (directory_ / "b").string());
  EXPECT_EQ(evaluated.exit_code, 0) << evaluated.output;
  EXPECT_NE(evaluated.output.find("is gone; using the run's prepared data"), std::string::npos)
      << evaluated.output;
  EXPECT_EQ(evaluated.output.find(phase_warning), std::string::npos) << evaluated.output;
}

// A run whose corpus has moved away is evaluated and resumed from the data it
// prepared (with a warning); a fresh run, or one whose prepared data is gone
// too, still needs the corpus and names it.
TEST_F(CliMlm, AnExistingRunOutlivesItsCorpus) {
  const fs::path run = directory_ / "run";
  const fs::path config = write_config("c.yaml", run);
  ASSERT_EQ(run_seqtrain("train " + config.string() + " --set training.steps=2").exit_code, 0);
  const CommandResult before = run_seqtrain("eval " + run.string(), false);
  ASSERT_EQ(before.exit_code, 0) << before.output;
  fs::rename(corpus_, directory_ / "moved.txt");
  const CommandResult after = run_seqtrain("eval " + run.string(), false);
  ASSERT_EQ(after.exit_code, 0) << after.output;
  EXPECT_EQ(after.output, before.output);  // the same metrics (stdout)
  const CommandResult resumed =
      run_seqtrain("train --resume " + run.string() + " --set training.steps=4");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("is gone; using the run's prepared data"), std::string::npos)
      << resumed.output;
  EXPECT_TRUE(fs::exists(run / "checkpoints" / "step_4"));
  const fs::path fresh = write_config("fresh.yaml", directory_ / "fresh");
  expect_user_error(run_seqtrain("train " + fresh.string()), "corpus.txt");
  fs::remove_all(run / "data");
  expect_user_error(run_seqtrain("eval " + run.string()), "corpus.txt");
}

// `seqtrain data prepare` of a corpus in two files (a glob) gives a directory
// that a run trains on as data.shards: the same model, bit for bit, as a run
// that prepares the two files joined with the same tokenizer.
TEST_F(CliMlm, PreparedShardsTrainLikeTheRunsOwnPreparation) {
  const std::string text = testing::generated_corpus(200);
  const std::size_t middle = text.find("\n\n", text.size() / 2);
  ASSERT_NE(middle, std::string::npos);
  fs::create_directories(directory_ / "parts");
  std::ofstream(directory_ / "parts" / "1.txt") << text.substr(0, middle + 1);
  std::ofstream(directory_ / "parts" / "2.txt") << text.substr(middle + 2);
  const fs::path prepared = directory_ / "prepared";
  const CommandResult prepare = run_seqtrain(
      "data prepare --input '" + (directory_ / "parts" / "*.txt").string() + "' --output " +
      prepared.string() + " --vocab-size " + std::to_string(testing::kSmallVocabSize) +
      " --validation-fraction 0.1");
  ASSERT_EQ(prepare.exit_code, 0) << prepare.output;
  EXPECT_TRUE(fs::exists(prepared / "tokenizer" / "tokenizer.json"));

  const fs::path config = write_config("shards.yaml", directory_ / "from_shards");
  std::string yaml = testing::read_bytes(config);
  const std::string path_line = "  path: " + corpus_.string() + "\n  validation_fraction: 0.1\n";
  ASSERT_NE(yaml.find(path_line), std::string::npos);
  yaml.replace(yaml.find(path_line), path_line.size(), "  shards: " + prepared.string() + "\n");
  const std::string tokenizer_line =
      "  tokenizer: {vocab_size: " + std::to_string(testing::kSmallVocabSize) + "}\n";
  yaml.replace(yaml.find(tokenizer_line), tokenizer_line.size(), "");
  std::ofstream(config) << yaml;
  const CommandResult from_shards = run_seqtrain("train " + config.string() + " --set training.steps=4");
  ASSERT_EQ(from_shards.exit_code, 0) << from_shards.output;
  EXPECT_NE(from_shards.output.find("(seqtrain data prepare)"), std::string::npos)
      << from_shards.output;

  std::ofstream(corpus_, std::ios::trunc) << text;  // the two parts joined
  const CommandResult own = run_seqtrain(
      "train " +
      write_config("own.yaml", directory_ / "own",
                   "{path: " + (prepared / "tokenizer").string() + "}")
          .string() +
      " --set training.steps=4");
  ASSERT_EQ(own.exit_code, 0) << own.output;
  for (const char* file : {"model.safetensors", "tokenizer.model"})
    expect_same_file(directory_ / "from_shards" / "checkpoints" / "step_4" / file,
                     directory_ / "own" / "checkpoints" / "step_4" / file);
  // It resumes from the same directory.
  const CommandResult resumed =
      run_seqtrain("train --resume " + (directory_ / "from_shards").string() +
                   " --set training.steps=6");
  EXPECT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_TRUE(fs::exists(directory_ / "from_shards" / "checkpoints" / "step_6"));
}

// An existing run (resume, eval) whose corpus files keep their recorded sizes
// and times uses its prepared data without reading them again: bytes changed
// behind an unchanged size and time go unnoticed there, where a new run
// reads the corpus and prepares it again.
TEST_F(CliMlm, AnExistingRunDoesNotReadItsCorpusAgain) {
  const fs::path run = directory_ / "run";
  const fs::path config = write_config("c.yaml", run);
  ASSERT_EQ(run_seqtrain("train " + config.string() + " --set training.steps=2").exit_code, 0);
  const auto modified = fs::last_write_time(corpus_);
  std::string text = testing::read_bytes(corpus_);
  std::replace(text.begin(), text.end(), 'a', 'o');  // other bytes, the same size
  std::ofstream(corpus_, std::ios::trunc) << text;
  fs::last_write_time(corpus_, modified);
  const CommandResult resumed =
      run_seqtrain("train --resume " + run.string() + " --set training.steps=4");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("masked-LM data reused from"), std::string::npos)
      << resumed.output;
  EXPECT_NE(run_seqtrain("eval " + run.string()).output.find("masked-LM data reused from"),
            std::string::npos);
  const CommandResult fresh = run_seqtrain(
      "train " + config.string() + " --set training.steps=1 --set data.cache_dir=" +
      (run / "data").string() + " --set run_dir=" + (directory_ / "fresh").string());
  ASSERT_EQ(fresh.exit_code, 0) << fresh.output;
  EXPECT_NE(fresh.output.find("masked-LM data prepared into"), std::string::npos) << fresh.output;
}

}  // namespace
}  // namespace seqtrain
