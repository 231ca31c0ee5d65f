// seqtrain eval RUN_DIR: the validation metrics of a run's latest (or a given)
// checkpoint, as one JSON object on stdout.
#include <iostream>

#include <nlohmann/json.hpp>

#include "backends/device_selection.h"
#include "cli/commands.h"
#include "train/checkpoint.h"
#include "train/run_directory.h"
#include "train/sequence_runner.h"
#include "train/evaluation.h"
#include "train/sequence_task.h"

namespace seqtrain {

void register_eval_command(CLI::App& app, CommandRegistry& commands) {
  struct Options {
    std::string run_dir, checkpoint, device = "auto";
    std::int64_t batches = 0;
  };
  auto options = std::make_shared<Options>();
  CLI::App* eval = app.add_subcommand("eval", "Evaluate a trained run on its validation data");
  eval->add_option("run_dir", options->run_dir, "The run directory")->required();
  eval->add_option("--checkpoint", options->checkpoint, "A checkpoint directory (default: the latest)");
  eval->add_option("--batches", options->batches, "Validation batches (default: all)")
      ->check(CLI::PositiveNumber);
  eval->add_option("--device", options->device, "auto, serial, cpu or cuda")
      ->check(CLI::IsMember({"auto", "serial", "cpu", "cuda"}));
  commands.add(eval, [options] {
    RunConfig config = resolve_run_config("", {}, options->run_dir);
    if (options->batches > 0) config.training.eval_batches = options->batches;
    else config.training.eval_batches = kAllValidationBatches;
    auto backend = select_backend(options->device, static_cast<int>(config.threads));
    ParameterStore parameters(*backend);
    SequenceTaskData task = load_sequence_task(config, options->run_dir);
    SequenceModel model(task.model_spec, parameters, static_cast<std::uint64_t>(config.seed));
    const std::filesystem::path checkpoint = options->checkpoint.empty()
                                                 ? require_latest_checkpoint(options->run_dir)
                                                 : std::filesystem::path(options->checkpoint);
    load_checkpoint(checkpoint, parameters, nullptr);
    SequenceRunner runner(model, *backend, parameters, config.training.carry_state);
    nlohmann::json result = evaluate_sequence_task(runner, *task.dataset, config);
    result["checkpoint"] = checkpoint.string();
    std::cout << result.dump() << "\n";
    return 0;
  });
}

}  // namespace seqtrain
