// Checkpoint directories: exact round trips, mismatches reported with names and
// shapes, and robustness against interrupted saves.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "seqtrain/backend.h"
#include "test_support.h"
#include "train/checkpoint.h"
#include "train_test_support.h"

namespace seqtrain {
namespace {

using testing::read_bytes;
using testing::TrainTestDirectory;
using testing::write_bytes;

// A model with two parameters; `extra` adds a third.
struct SmallModel {
  std::unique_ptr<Backend> backend = make_serial_backend();
  ParameterStore store{*backend};

  explicit SmallModel(Shape weight_shape = {3, 4}, bool extra = false) {
    store.add("encoder.weight", weight_shape, true);
    store.add("encoder.bias", {weight_shape[0]}, false);
    if (extra) store.add("decoder.weight", {2, 2}, true);
  }
  void randomize(std::uint64_t seed) {
    for (const auto& parameter : store.all())
      store.set_value(*parameter, testing::random_tensor(parameter->value.shape(), seed++));
  }
  void train_steps(Optimizer& optimizer, int steps, std::uint64_t seed) {
    for (int step = 0; step < steps; ++step) {
      for (const auto& parameter : store.all())
        backend->copy_from_host(testing::random_tensor(parameter->grad.shape(), seed++),
                                parameter->grad);
      optimizer.step(1e-2f);
    }
  }
};

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.raw(), b.raw(), a.bytes()) == 0;
}

void expect_parameters_identical(const ParameterStore& actual, const ParameterStore& expected) {
  ASSERT_EQ(actual.all().size(), expected.all().size());
  for (std::size_t i = 0; i < actual.all().size(); ++i)
    EXPECT_TRUE(same_bytes(actual.value_to_host(*actual.all()[i]),
                           expected.value_to_host(*expected.all()[i])))
        << actual.all()[i]->name;
}

void expect_error_mentions(const std::function<void()>& action,
                           const std::vector<std::string>& fragments) {
  try {
    action();
    ADD_FAILURE() << "no CheckpointError";
  } catch (const CheckpointError& error) {
    for (const std::string& fragment : fragments)
      EXPECT_NE(std::string(error.what()).find(fragment), std::string::npos)
          << "'" << fragment << "' not in: " << error.what();
  }
}

const nlohmann::json kTrainerState = {
    {"rng", {{"seed", 42}, {"dropout_position", 18446744073709551615ull}}},
    {"data", {{"epoch", 2}, {"shard", "train-0003"}, {"offset", 12345}}},
    {"metrics", {{"best_validation_loss", 1.25}}}};

TEST(Checkpoint, SaveThenLoadRestoresParametersAndOptimizerStateBitForBit) {
  TrainTestDirectory run;
  SmallModel original;
  original.randomize(1);
  AdamWOptimizer optimizer(original.store, {});
  original.train_steps(optimizer, 2, 100);
  const auto directory = save_checkpoint(run.root(), 2, original.store, optimizer, kTrainerState);
  EXPECT_EQ(directory, run.root() / "checkpoints" / "step_2");

  SmallModel restored;
  AdamWOptimizer restored_optimizer(restored.store, {});
  LoadedCheckpoint loaded = load_checkpoint(directory, restored.store, &restored_optimizer);
  EXPECT_EQ(loaded.step, 2);
  EXPECT_EQ(loaded.trainer_state, kTrainerState);
  EXPECT_EQ(restored_optimizer.step_count(), 2);
  expect_parameters_identical(restored.store, original.store);
  const auto saved_state = optimizer.state_to_host();
  const auto restored_state = restored_optimizer.state_to_host();
  ASSERT_EQ(saved_state.size(), 4u);
  for (const auto& [name, tensor] : saved_state)
    EXPECT_TRUE(same_bytes(restored_state.at(name), tensor)) << name;

  // The next step is the same in both: bias correction resumed at t = 3.
  original.train_steps(optimizer, 1, 500);
  restored.train_steps(restored_optimizer, 1, 500);
  expect_parameters_identical(restored.store, original.store);
}

TEST(Checkpoint, WritesTheDocumentedLayoutAndLatestPointer) {
  TrainTestDirectory run;
  SmallModel model;
  SgdOptimizer optimizer(model.store, {.momentum = 0.9f});
  save_checkpoint(run.root(), 7, model.store, optimizer, nlohmann::json::object());
  const auto directory = run.root() / "checkpoints" / "step_7";
  EXPECT_EQ(read_bytes(run.root() / "checkpoints" / "latest"), "step_7\n");
  SafetensorsContents model_file = read_safetensors(directory / "model.safetensors");
  EXPECT_EQ(model_file.metadata.at("format"), "pt");
  EXPECT_TRUE(model_file.tensors.contains("encoder.weight"));
  SafetensorsContents optimizer_file = read_safetensors(directory / "optimizer.safetensors");
  EXPECT_TRUE(optimizer_file.tensors.contains("encoder.bias.momentum_buffer"));
  nlohmann::json state = nlohmann::json::parse(read_bytes(directory / "trainer_state.json"));
  EXPECT_EQ(state["step"], 7);
  EXPECT_EQ(state["optimizer"]["name"], "sgd");
  EXPECT_EQ(state["optimizer"]["step_count"], 0);

  save_checkpoint(run.root(), 9, model.store, optimizer, nlohmann::json::object());
  EXPECT_EQ(read_bytes(run.root() / "checkpoints" / "latest"), "step_9\n");
}

TEST(Checkpoint, ShapeMismatchNamesTheTensorAndBothShapes) {
  TrainTestDirectory run;
  SmallModel saved({3, 4});
  AdamWOptimizer optimizer(saved.store, {});
  const auto directory = save_checkpoint(run.root(), 1, saved.store, optimizer, {{"a", 1}});
  SmallModel wider({3, 5});
  AdamWOptimizer wider_optimizer(wider.store, {});
  expect_error_mentions([&] { load_checkpoint(directory, wider.store, &wider_optimizer); },
                        {"model.safetensors", "encoder.weight", "[3, 4]", "[3, 5]"});
  // Nothing was loaded.
  EXPECT_EQ(wider.store.value_to_host(wider.store.get("encoder.bias")).to_vector(),
            (std::vector<float>{0.0f, 0.0f, 0.0f}));
}

TEST(Checkpoint, MissingAndUnexpectedTensorsAreCheckpointErrors) {
  TrainTestDirectory run;
  SmallModel small;
  SmallModel large({3, 4}, /*extra=*/true);
  AdamWOptimizer small_optimizer(small.store, {});
  AdamWOptimizer large_optimizer(large.store, {});
  const auto small_checkpoint =
      save_checkpoint(run.root() / "small", 1, small.store, small_optimizer, {{"a", 1}});
  const auto large_checkpoint =
      save_checkpoint(run.root() / "large", 1, large.store, large_optimizer, {{"a", 1}});
  expect_error_mentions([&] { load_checkpoint(small_checkpoint, large.store, &large_optimizer); },
                        {"model.safetensors", "no tensor 'decoder.weight'", "[2, 2]"});
  expect_error_mentions([&] { load_checkpoint(large_checkpoint, small.store, &small_optimizer); },
                        {"model.safetensors", "'decoder.weight'", "does not have"});
}

TEST(Checkpoint, OptimizerStateMismatchesAreCheckpointErrors) {
  TrainTestDirectory run;
  SmallModel model;
  AdamWOptimizer adamw(model.store, {});
  const auto directory = save_checkpoint(run.root(), 3, model.store, adamw, {{"a", 1}});
  SgdOptimizer sgd(model.store, {.momentum = 0.9f});
  expect_error_mentions([&] { load_checkpoint(directory, model.store, &sgd); }, {"adamw", "sgd"});
  // The weights alone still load.
  EXPECT_EQ(load_checkpoint(directory, model.store, nullptr).step, 3);

  // An optimizer file that lost a tensor.
  SafetensorsContents state = read_safetensors(directory / "optimizer.safetensors");
  state.tensors.erase("encoder.bias.exp_avg_sq");
  std::vector<NamedTensor> kept;
  for (auto& [name, tensor] : state.tensors) kept.push_back({name, tensor});
  write_safetensors(directory / "optimizer.safetensors", kept, state.metadata);
  expect_error_mentions([&] { load_checkpoint(directory, model.store, &adamw); },
                        {"optimizer.safetensors", "encoder.bias.exp_avg_sq"});
}

TEST(Checkpoint, CorruptTrainerStateIsACheckpointErrorNamingTheFile) {
  TrainTestDirectory run;
  SmallModel model;
  AdamWOptimizer optimizer(model.store, {});
  const auto directory = save_checkpoint(run.root(), 4, model.store, optimizer, {{"a", 1}});
  write_bytes(directory / "trainer_state.json", "{\"format_version\": 1, \"step\": ");
  expect_error_mentions([&] { load_checkpoint(directory, model.store, &optimizer); },
                        {"trainer_state.json", "not valid JSON"});
  write_bytes(directory / "trainer_state.json",
              R"({"format_version": 1, "step": 5, "optimizer": {"name": "adamw", )"
              R"("step_count": 5}, "trainer": {}})");
  expect_error_mentions([&] { load_checkpoint(directory, model.store, &optimizer); },
                        {"trainer_state.json", "step 5", "step 4"});
}

TEST(Checkpoint, FindLatestSkipsTempAndIncompleteDirectories) {
  TrainTestDirectory run;
  EXPECT_FALSE(find_latest_checkpoint(run.root()).has_value());
  EXPECT_FALSE(find_latest_checkpoint(run.root() / "no_such_run").has_value());

  SmallModel model;
  AdamWOptimizer optimizer(model.store, {});
  save_checkpoint(run.root(), 5, model.store, optimizer, {{"a", 1}});
  save_checkpoint(run.root(), 12, model.store, optimizer, {{"a", 1}});
  const auto root = run.root() / "checkpoints";
  // An interrupted save of step 20: a temp directory with half a model file.
  std::filesystem::create_directories(root / ".step_20.tmp-Ab12Cd");
  write_bytes(root / ".step_20.tmp-Ab12Cd" / "model.safetensors", "\x40\x00\x00");
  // A step directory someone emptied by hand, and names that are not steps.
  std::filesystem::create_directories(root / "step_30");
  write_bytes(root / "step_30" / "model.safetensors", "");
  std::filesystem::create_directories(root / "step_x");
  std::filesystem::create_directories(root / "step_");
  write_bytes(root / "step_40", "not a directory");

  auto latest = find_latest_checkpoint(run.root());
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(*latest, root / "step_12");
  // Numeric, not lexicographic: step_12 is newer than step_5.
  std::filesystem::remove_all(root / "step_12");
  EXPECT_EQ(*find_latest_checkpoint(run.root()), root / "step_5");
}

TEST(Checkpoint, SavingAnExistingStepIsRefusedAndKeepsIt) {
  TrainTestDirectory run;
  SmallModel model;
  model.randomize(1);
  AdamWOptimizer optimizer(model.store, {});
  const auto directory = save_checkpoint(run.root(), 3, model.store, optimizer, {{"version", "first"}});
  SmallModel first;
  first.randomize(1);
  model.randomize(50);
  expect_error_mentions(
      [&] { save_checkpoint(run.root(), 3, model.store, optimizer, {{"version", "second"}}); },
      {"step_3", "already exists", "never writes over"});

  SmallModel restored;
  AdamWOptimizer restored_optimizer(restored.store, {});
  EXPECT_EQ(load_checkpoint(directory, restored.store, &restored_optimizer).trainer_state,
            (nlohmann::json{{"version", "first"}}));
  expect_parameters_identical(restored.store, first.store);
  std::vector<std::string> entries;
  for (const auto& entry : std::filesystem::directory_iterator(run.root() / "checkpoints"))
    entries.push_back(entry.path().filename().string());
  std::sort(entries.begin(), entries.end());
  EXPECT_EQ(entries, (std::vector<std::string>{"latest", "step_3"}));  // no temp directory left
}

TEST(Checkpoint, ResumeCheckpointIsTheNewestAndRefusesAnIncompleteOne) {
  TrainTestDirectory run;
  EXPECT_FALSE(find_resume_checkpoint(run.root()).has_value());
  SmallModel model;
  AdamWOptimizer optimizer(model.store, {});
  save_checkpoint(run.root(), 2, model.store, optimizer, {{"a", 1}});
  save_checkpoint(run.root(), 4, model.store, optimizer, {{"a", 1}});
  const auto root = run.root() / "checkpoints";
  EXPECT_EQ(*find_resume_checkpoint(run.root()), root / "step_4");
  // Temp directories of interrupted saves are not checkpoints.
  std::filesystem::create_directories(root / ".step_6.tmp-Ab12Cd");
  EXPECT_EQ(*find_resume_checkpoint(run.root()), root / "step_4");

  std::filesystem::remove(root / "step_4" / "optimizer.safetensors");
  expect_error_mentions([&] { find_resume_checkpoint(run.root()); },
                        {"step_4", "optimizer.safetensors missing", "resume from step_2"});
  std::filesystem::remove_all(root / "step_2");
  expect_error_mentions([&] { find_resume_checkpoint(run.root()); },
                        {"step_4", "optimizer.safetensors missing", "fresh run"});
  // find_latest_checkpoint (eval, generate) still skips it.
  EXPECT_FALSE(find_latest_checkpoint(run.root()).has_value());
}

TEST(Checkpoint, InterruptedSavesAreRemovedAndLatestRewritten) {
  TrainTestDirectory run;
  SmallModel model;
  AdamWOptimizer optimizer(model.store, {});
  const auto step_5 = save_checkpoint(run.root(), 5, model.store, optimizer, {{"a", 1}});
  const auto root = run.root() / "checkpoints";
  std::filesystem::create_directories(root / ".step_9.tmp-Ab12Cd");
  write_bytes(root / ".step_9.tmp-Ab12Cd" / "model.safetensors", "\x40");
  write_bytes(root / "latest", "step_9\n");  // a kill between a rename and its pointer
  remove_interrupted_saves(run.root());
  write_latest_pointer(run.root(), step_5);
  EXPECT_FALSE(std::filesystem::exists(root / ".step_9.tmp-Ab12Cd"));
  EXPECT_TRUE(std::filesystem::exists(step_5 / "model.safetensors"));
  EXPECT_EQ(read_bytes(root / "latest"), "step_5\n");
}

TEST(Checkpoint, PruneKeepsTheNewestAndRemovesLeftoverTempDirectories) {
  TrainTestDirectory run;
  SmallModel model;
  AdamWOptimizer optimizer(model.store, {});
  for (std::int64_t step : {10, 20, 30})
    save_checkpoint(run.root(), step, model.store, optimizer, {{"a", 1}});
  const auto root = run.root() / "checkpoints";
  std::filesystem::create_directories(root / ".step_40.tmp-zz9ZZ9");
  prune_checkpoints(run.root(), 2);
  EXPECT_FALSE(std::filesystem::exists(root / "step_10"));
  EXPECT_TRUE(std::filesystem::exists(root / "step_20"));
  EXPECT_TRUE(std::filesystem::exists(root / "step_30"));
  EXPECT_FALSE(std::filesystem::exists(root / ".step_40.tmp-zz9ZZ9"));
  EXPECT_EQ(read_bytes(root / "latest"), "step_30\n");
}

}  // namespace
}  // namespace seqtrain
