// seqtrain eval RUN_DIR: the validation metrics of a run's latest (or a given)
// checkpoint, as one JSON object on stdout.
#include <iostream>
#include <nlohmann/json.hpp>

#include "backends/device_selection.h"
#include "cli/commands.h"
#include "cli/trained_run.h"
#include "data/sequence_dataset.h"

namespace seqtrain {
namespace {

struct EvalOptions {
  std::string run_dir, checkpoint, device = "auto", data;
  std::int64_t batches = 0;
};

// eval --data FILE: the metrics of the lines of FILE that say what they expect.
int evaluate_file(const EvalOptions& options) {
  TrainedSequenceRun run =
      load_trained_sequence_run("eval --data", {Task::charlm, Task::adding, Task::classification},
                                options.run_dir, options.checkpoint, options.device);
  const Predictions predictions = predict_file(run, options.data, 1);
  if (predictions.metrics.is_null())
    throw DataError(fmt::format(
        "eval --data {}: no line says what it expects, so there is nothing to score "
        "(classification: LABEL<tab>TEXT; adding: the two summed values marked '*'; "
        "charlm: non-empty lines)",
        options.data));
  nlohmann::json result = predictions.metrics;
  result["data"] = options.data;
  result["checkpoint"] = run.checkpoint.string();
  std::cout << result.dump() << "\n";
  return 0;
}

}  // namespace

void register_eval_command(CLI::App& app, CommandRegistry& commands) {
  auto options = std::make_shared<EvalOptions>();
  CLI::App* eval = app.add_subcommand("eval", "Evaluate a trained run on its validation data");
  eval->add_option("run_dir", options->run_dir, "The run directory")->required();
  eval->add_option("--checkpoint", options->checkpoint,
                   "A checkpoint: step_N or a path, looked for in the run directory first "
                   "(default: the latest)");
  eval->add_option("--batches", options->batches, "Validation batches (default: all)")
      ->check(integer_at_least(1));
  eval->add_option("--device", options->device, kDeviceChoices)
      ->check(device_validator());
  eval->add_option("--data", options->data,
                   "Score this file instead of the validation data (charlm, adding, "
                   "classification; the formats of seqtrain predict --input, with labels)");
  commands.add(eval, [options] {
    if (!options->data.empty()) return evaluate_file(*options);
    TrainedTask run = load_trained_task(options->run_dir, options->checkpoint, options->device);
    nlohmann::json result =
        run.task->evaluate_in_detail(options->batches > 0 ? options->batches
                                                          : kAllValidationBatches);
    result["checkpoint"] = run.checkpoint.string();
    std::cout << result.dump() << "\n";
    return 0;
  });
}

}  // namespace seqtrain
