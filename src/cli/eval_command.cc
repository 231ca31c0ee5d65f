// seqtrain eval RUN_DIR: the validation metrics of a run's latest (or a given)
// checkpoint, as one JSON object on stdout.
#include <iostream>
#include <nlohmann/json.hpp>

#include "backends/device_selection.h"
#include "cli/commands.h"
#include "config/resolve_run_config.h"
#include "data/sequence_dataset.h"
#include "train/checkpoint.h"
#include "train/run_directory.h"
#include "tasks/training_task.h"

namespace seqtrain {

void register_eval_command(CLI::App& app, CommandRegistry& commands) {
  struct Options {
    std::string run_dir, checkpoint, device = "auto";
    std::int64_t batches = 0;
  };
  auto options = std::make_shared<Options>();
  CLI::App* eval = app.add_subcommand("eval", "Evaluate a trained run on its validation data");
  eval->add_option("run_dir", options->run_dir, "The run directory")->required();
  eval->add_option("--checkpoint", options->checkpoint,
                   "A checkpoint: step_N or a path, looked for in the run directory first "
                   "(default: the latest)");
  eval->add_option("--batches", options->batches, "Validation batches (default: all)")
      ->check(integer_at_least(1));
  eval->add_option("--device", options->device, kDeviceChoices)
      ->check(device_validator());
  commands.add(eval, [options] {
    RunConfig config = resolve_run_config("", {}, options->run_dir);
    // model.impl goes to a cuda backend; elsewhere the fused layers compute the same.
    auto backend = select_backend(options->device, static_cast<int>(config.threads),
                                  config.model.impl);
    ParameterStore parameters(*backend);
    std::unique_ptr<TrainingTask> task =
        make_training_task(config, options->run_dir, *backend, parameters, RunStart::existing);
    const std::filesystem::path checkpoint =
        resolve_checkpoint_argument(options->run_dir, options->checkpoint);
    LoadedCheckpoint loaded = load_checkpoint(checkpoint, task->checkpoint_format(), nullptr);
    // The data position: mlm validates with the layout of the checkpoint's phase.
    try {
      task->restore_state(loaded.trainer_state, loaded.state_tensors);
    } catch (const nlohmann::json::exception& e) {
      throw CheckpointError(fmt::format("{}: {} is malformed: {}", checkpoint.string(),
                                        kTrainerStateFileName, e.what()));
    }
    nlohmann::json result =
        task->evaluate(options->batches > 0 ? options->batches : kAllValidationBatches);
    result["checkpoint"] = checkpoint.string();
    std::cout << result.dump() << "\n";
    return 0;
  });
}

}  // namespace seqtrain
