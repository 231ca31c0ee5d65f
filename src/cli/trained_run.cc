#include "cli/trained_run.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <sstream>

#include "backends/device_selection.h"
#include "config/resolve_run_config.h"
#include "io/read_file.h"
#include "seqtrain/error.h"
#include "tasks/sequence_runner.h"
#include "tasks/sequence_task.h"
#include "train/checkpoint.h"
#include "train/run_directory.h"

namespace seqtrain {

TrainedSequenceRun load_trained_sequence_run(const std::string& command,
                                             const std::vector<Task>& serves,
                                             const std::filesystem::path& run_dir,
                                             const std::string& checkpoint,
                                             const std::string& device) {
  TrainedSequenceRun run;
  run.config = resolve_run_config("", {}, run_dir.string());
  if (std::find(serves.begin(), serves.end(), run.config.task) == serves.end()) {
    std::vector<std::string> names;
    for (Task task : serves) names.push_back(task_name(task));
    throw ConfigError(fmt::format("{}: {} is a run of task {}; {} serves {} runs", command,
                                  run_dir.string(), task_name(run.config.task), command,
                                  fmt::join(names, ", ")));
  }
  // model.impl goes to a cuda backend; elsewhere the fused layers compute the same.
  run.backend =
      select_backend(device, static_cast<int>(run.config.threads), run.config.model.impl);
  run.parameters = std::make_unique<ParameterStore>(*run.backend);
  // The same route as training: the model config.model.type names.
  run.model = make_sequence_model(sequence_model_spec(run.config, run_dir), *run.parameters,
                                  static_cast<std::uint64_t>(run.config.seed));
  run.checkpoint = resolve_checkpoint_argument(run_dir, checkpoint);
  load_checkpoint(run.checkpoint, *run.parameters, nullptr);
  if (run.config.task != Task::adding)
    run.vocabulary = CharVocabulary::load(vocabulary_path(run_dir));
  if (run.config.task == Task::classification) run.class_names = load_labels(run_dir).names();
  return run;
}

std::vector<std::string> read_lines(const std::filesystem::path& path) {
  std::istringstream text(read_file(path));
  std::vector<std::string> lines;
  for (std::string line; std::getline(text, line);) {
    if (line.ends_with('\r')) line.pop_back();
    lines.push_back(std::move(line));
  }
  return lines;
}

TrainedTask load_trained_task(const std::filesystem::path& run_dir, const std::string& checkpoint,
                              const std::string& device) {
  TrainedTask run;
  run.config = resolve_run_config("", {}, run_dir.string());
  // model.impl goes to a cuda backend; elsewhere the fused layers compute the same.
  run.backend =
      select_backend(device, static_cast<int>(run.config.threads), run.config.model.impl);
  run.parameters = std::make_unique<ParameterStore>(*run.backend);
  run.task = make_training_task(run.config, run_dir, *run.backend, *run.parameters,
                                RunStart::existing);
  run.checkpoint = resolve_checkpoint_argument(run_dir, checkpoint);
  LoadedCheckpoint loaded = load_checkpoint(run.checkpoint, run.task->checkpoint_format(), nullptr);
  // The data position: mlm validates with the layout of the checkpoint's phase.
  try {
    run.task->restore_state(loaded.trainer_state, loaded.state_tensors);
  } catch (const nlohmann::json::exception& e) {
    throw CheckpointError(fmt::format("{}: {} is malformed: {}", run.checkpoint.string(),
                                      kTrainerStateFileName, e.what()));
  }
  return run;
}

Predictions predict_file(TrainedSequenceRun& run, const std::filesystem::path& input,
                         std::int64_t top_k) {
  SequenceRunner runner(*run.model, *run.backend, *run.parameters, false);
  PredictionInputs inputs;
  inputs.config = &run.config;
  inputs.vocabulary = run.vocabulary ? &*run.vocabulary : nullptr;
  inputs.class_names = &run.class_names;
  inputs.source_name = input.string();
  inputs.top_k = top_k;
  return predict_lines(runner, inputs, read_lines(input));
}

}  // namespace seqtrain
