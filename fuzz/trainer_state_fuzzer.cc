// trainer_state.json, read when a run resumes (src/train/resume_from_checkpoint.h:
// load_checkpoint, the task's restore_state, the keep_best and early-stopping
// trackers). The harness trains one step of a tiny charlm run and saves its
// checkpoint once; every input then replaces that checkpoint's
// trainer_state.json (the main file) and, when the input has a
// "%%file trainer_state.safetensors", its state tensors, resumes from it and,
// when that succeeds, trains one batch from the restored position and state.
//
// SEQTRAIN_FUZZ_WRITE_SEED=FILE writes the saved checkpoint's own state as a
// seed in the input form (fuzz/make_seed_corpus.sh uses it).
#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "config/run_config.h"
#include "fuzz_input.h"
#include "seqtrain/backend.h"
#include "seqtrain/error.h"
#include "seqtrain/parameters.h"
#include "tasks/training_task.h"
#include "train/checkpoint.h"
#include "train/checkpoint_policy.h"
#include "train/optimizer.h"
#include "train/resume_from_checkpoint.h"

using namespace seqtrain;
namespace fs = std::filesystem;

namespace {

struct Run {
  std::unique_ptr<Backend> backend;
  std::unique_ptr<ParameterStore> parameters;
  std::unique_ptr<TrainingTask> task;
  std::unique_ptr<Optimizer> optimizer;
  fs::path checkpoint;
};

std::string read_whole(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A tiny charlm run with carried state, one training step, one checkpoint.
Run make_run(const fs::path& root) {
  std::string corpus;
  for (int line = 0; line < 40; ++line)
    corpus += "The quick brown fox jumps over the lazy dog. Grüße, 東京!\n";
  std::ofstream(root / "corpus.txt") << corpus;
  const std::string yaml = fmt::format(R"(task: charlm
seed: 1
run_dir: {}
model: {{cell: lstm, embedding_size: 4, hidden_size: 4, layers: 1}}
data: {{path: {}, vocabulary: char, validation_fraction: 0.1, sequence_length: 4, batch_size: 2}}
training: {{steps: 10, carry_state: true}}
)",
                                       (root / "run").string(), (root / "corpus.txt").string());
  const RunConfig config = run_config_from_yaml_text(yaml, "trainer_state_fuzzer", {});
  fs::create_directories(config.run_dir);
  Run run;
  run.backend = make_serial_backend();
  run.parameters = std::make_unique<ParameterStore>(*run.backend);
  run.task = make_training_task(config, config.run_dir, *run.backend, *run.parameters);
  run.optimizer = std::make_unique<AdamWOptimizer>(*run.parameters, AdamWOptimizerOptions{});
  RunContext context;
  context.seed = 1;
  context.step = 1;
  run.task->train_batch(context);
  run.optimizer->step(1e-3f);

  nlohmann::json trainer_state;
  trainer_state["step"] = 1;
  trainer_state["seed"] = 1;
  std::vector<NamedTensor> state_tensors;
  run.task->save_state(trainer_state, state_tensors);
  MetricTracker best("loss"), early_stopping("accuracy", 0.01);
  best.observe(1, {{"loss", 2.5}});
  early_stopping.observe(1, {{"accuracy", 0.25}});
  trainer_state["keep_best"] = best.to_json();
  trainer_state["early_stopping"] = early_stopping.to_json();
  run.checkpoint = save_checkpoint(config.run_dir, 1, run.task->checkpoint_format(), *run.optimizer,
                                   trainer_state, state_tensors);
  return run;
}

Run& the_run() {
  static Run run = make_run(fuzz::FuzzDirectory::instance().path());
  return run;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::silence_logging();
  Run& run = the_run();
  if (const char* seed = std::getenv("SEQTRAIN_FUZZ_WRITE_SEED")) {
    std::ofstream(seed, std::ios::binary) << read_whole(run.checkpoint / kTrainerStateFileName)
                                          << "\n%%file " << kTrainerTensorsFileName << "\n"
                                          << read_whole(run.checkpoint / kTrainerTensorsFileName);
  }
  // Every input starts from the saved state tensors unless it brings its own.
  fs::copy_file(run.checkpoint / kTrainerTensorsFileName,
                run.checkpoint.parent_path() / "saved_state.safetensors");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Run& run = the_run();
  const std::vector<fuzz::FuzzFile> files = fuzz::split_fuzz_input(data, size);
  std::ofstream(run.checkpoint / kTrainerStateFileName, std::ios::binary | std::ios::trunc)
      << files.front().bytes;
  const fs::path tensors = run.checkpoint / kTrainerTensorsFileName;
  if (const std::string* own = fuzz::find_fuzz_file(files, kTrainerTensorsFileName))
    std::ofstream(tensors, std::ios::binary | std::ios::trunc) << *own;
  else
    fs::copy_file(run.checkpoint.parent_path() / "saved_state.safetensors", tensors,
                  fs::copy_options::overwrite_existing);
  std::optional<MetricTracker> best(std::in_place, "loss");
  std::optional<MetricTracker> early_stopping(std::in_place, "accuracy", 0.01);
  try {
    resume_from_checkpoint(run.checkpoint, *run.task, *run.optimizer, best, early_stopping);
  } catch (const Error& error) {
    fuzz::expected_error(error);
    return 0;
  }
  // A resumed run trains on from the restored data position and carried state.
  RunContext context;
  context.seed = 1;
  context.step = 2;
  try {
    run.task->train_batch(context);
  } catch (const Error& error) {
    fuzz::expected_error(error);
  }
  return 0;
}
