// training.init_from for the sequence tasks (models/sequence_model_init.h):
// a PyTorch nn.LSTM's weights (scripts/make_reference.py's fixture, written
// by PyTorch under its own names) start a classification run, bit for bit;
// a seqtrain checkpoint starts another run; bad files are one-line errors.

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli_test_support.h"
#include "io/safetensors.h"

namespace seqtrain {
namespace {

namespace fs = std::filesystem;

using testing::CommandResult;
using testing::run_seqtrain;

class CliInitFrom : public testing::CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    std::string rows;
    for (int i = 0; i < 40; ++i)
      rows += (i % 2 == 0 ? "even\tan even line " : "odd\tan odd line ") + std::to_string(i) + "\n";
    data_ = write("data.tsv", rows);
  }

  // Classification with the fixture's stack: 2 bidirectional LSTM layers of 6
  // over inputs of 5. A learning rate of 1e-30 leaves every weight where it
  // started after the one step (w + 1e-30 rounds to w).
  fs::path config(const std::string& name) {
    return write(name + ".yaml",
                 "task: classification\nseed: 3\nthreads: 1\nrun_dir: " +
                     (directory_ / name).string() +
                     "\nmodel: {cell: lstm, embedding_size: 5, hidden_size: 6, layers: 2, "
                     "bidirectional: true}\n"
                     "data: {train_path: " + data_.string() +
                     ", sequence_length: 16, batch_size: 4, validation_fraction: 0.25}\n"
                     "training: {steps: 1, eval_every: 0, eval_batches: 1, log_every: 1,\n"
                     "  optimizer: {learning_rate: 1.0e-30, weight_decay: 0.0},\n"
                     "  schedule: {warmup_steps: 0, decay: constant}}\n");
  }

  static SafetensorsContents weights_of(const fs::path& run) {
    return read_safetensors(run / "checkpoints" / "step_1" / "model.safetensors");
  }

  fs::path data_;
};

TEST_F(CliInitFrom, APyTorchLstmStartsARecurrentRunBitForBit) {
  // The nn.LSTM's parameters as a module holding it as `encoder.lstm` saves them.
  const SafetensorsContents fixture =
      read_safetensors(fs::path(SEQTRAIN_FIXTURES) / "rnn_reference_lstm.safetensors");
  std::vector<NamedTensor> state;
  for (const auto& [name, tensor] : fixture.tensors)
    if (name.starts_with("weight_") || name.starts_with("bias_"))
      state.push_back({"encoder.lstm." + name, tensor});
  ASSERT_EQ(state.size(), 16u);
  const fs::path file = directory_ / "lstm.safetensors";
  write_safetensors(file, state);

  const CommandResult result = run_seqtrain("train " + config("from_torch").string() +
                                            " --set training.init_from=" + file.string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("initialised 16 of 19 parameters from " + file.string() +
                               "; freshly initialised: embedding.weight, head.weight, head.bias"),
            std::string::npos)
      << result.output;
  const SafetensorsContents trained = weights_of(directory_ / "from_torch");
  for (const NamedTensor& tensor : state) {
    const std::string name = "rnn." + tensor.name.substr(std::string("encoder.lstm.").size());
    EXPECT_EQ(trained.tensors.at(name).to_vector(), tensor.tensor.to_vector()) << name;
  }
  // The rest is as a run without init_from initialises it.
  ASSERT_EQ(run_seqtrain("train " + config("fresh").string()).exit_code, 0);
  const SafetensorsContents fresh = weights_of(directory_ / "fresh");
  for (const char* name : {"embedding.weight", "head.weight", "head.bias"})
    EXPECT_EQ(trained.tensors.at(name).to_vector(), fresh.tensors.at(name).to_vector()) << name;
  EXPECT_NE(trained.tensors.at("rnn.weight_ih_l0").to_vector(),
            fresh.tensors.at("rnn.weight_ih_l0").to_vector());

  // A seqtrain checkpoint directory starts a run with all of its weights.
  const CommandResult again =
      run_seqtrain("train " + config("from_checkpoint").string() + " --set training.init_from=" +
                   (directory_ / "from_torch" / "checkpoints" / "step_1").string());
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("initialised 19 of 19 parameters"), std::string::npos) << again.output;
  const SafetensorsContents copied = weights_of(directory_ / "from_checkpoint");
  for (const auto& [name, tensor] : trained.tensors)
    EXPECT_EQ(copied.tensors.at(name).to_vector(), tensor.to_vector()) << name;
}

TEST_F(CliInitFrom, FilesThatDoNotFitAreOneLineErrors) {
  const SafetensorsContents fixture =
      read_safetensors(fs::path(SEQTRAIN_FIXTURES) / "rnn_reference_lstm.safetensors");
  const Tensor& weight = fixture.tensors.at("weight_ih_l0");
  auto write_one = [&](const std::string& file, const std::string& name, const Tensor& tensor) {
    write_safetensors(directory_ / file, {{name, tensor}});
    return " --set training.init_from=" + (directory_ / file).string();
  };
  const std::string train = "train " + config("run").string();
  expect_user_error(run_seqtrain(train + write_one("unknown.safetensors", "decoder.weight", weight)),
                    "tensor 'decoder.weight' is not a parameter of this model");
  expect_user_error(
      run_seqtrain(train + write_one("shape.safetensors", "weight_hh_l0", weight)),
      "tensor 'weight_hh_l0' is f32 [24, 5], parameter 'rnn.weight_hh_l0' is f32 [24, 6]");
  expect_user_error(run_seqtrain(train + " --set training.init_from=" +
                                 (directory_ / "missing.safetensors").string()),
                    "no such file or directory");
  expect_user_error(run_seqtrain(train + " --set training.init_from=" + directory_.string()),
                    "a directory needs a model.safetensors");
  EXPECT_FALSE(fs::exists(directory_ / "run" / "checkpoints"));
}

}  // namespace
}  // namespace seqtrain
