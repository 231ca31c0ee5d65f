// seqtrain predict RUN_DIR --input FILE: a trained sequence model's predictions
// for every line of FILE as JSON Lines (tasks/prediction.h has the formats).
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>

#include <spdlog/spdlog.h>

#include "backends/device_selection.h"
#include "cli/commands.h"
#include "cli/trained_run.h"
#include "config/resolve_run_config.h"
#include "io/atomic_write.h"
#include "tasks/prediction.h"

namespace seqtrain {

namespace {

struct PredictOptions {
  std::string run_dir, input, output, checkpoint, device = "auto";
  std::int64_t top_k = 5;
};

void write_records(const PredictOptions& options, const std::vector<nlohmann::json>& records) {
  std::string lines;
  for (const nlohmann::json& record : records)
    lines += record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  if (options.output.empty())
    std::cout << lines << std::flush;
  else
    write_file_atomically(options.output, lines);
}

// mlm: the likeliest tokens at each [MASK] of every line.
int fill_masks(const PredictOptions& options) {
  TrainedTask run = load_trained_task(options.run_dir, options.checkpoint, options.device);
  const std::vector<nlohmann::json> records =
      run.task->fill_masks(read_lines(options.input), options.top_k);
  write_records(options, records);
  spdlog::info("{} lines; [MASK]s filled in {} of them", records.size(),
               std::count_if(records.begin(), records.end(),
                             [](const nlohmann::json& r) { return !r["masks"].empty(); }));
  return 0;
}

}  // namespace

void register_predict_command(CLI::App& app, CommandRegistry& commands) {
  auto options = std::make_shared<PredictOptions>();
  CLI::App* predict = app.add_subcommand(
      "predict", "Predict every line of a file with a trained run (mlm: fill each [MASK])");
  predict->add_option("run_dir", options->run_dir, "The run directory")->required();
  predict->add_option("--input", options->input,
                      "One example per line: classification 'TEXT' or 'LABEL<tab>TEXT'; charlm "
                      "any text; adding values with the two marked ones suffixed '*'; mlm text "
                      "with [MASK] where a token is to be filled in")
      ->required();
  predict->add_option("--output", options->output,
                      "Write the JSON Lines here (atomically) instead of stdout");
  predict->add_option("--checkpoint", options->checkpoint,
                      "A checkpoint: step_N or a path, looked for in the run directory first "
                      "(default: the latest)");
  predict->add_option("--top-k", options->top_k,
                      "charlm: symbols listed after each line; mlm: tokens listed per [MASK]")
      ->check(integer_at_least(1))
      ->capture_default_str();
  predict->add_option("--device", options->device, kDeviceChoices)->check(device_validator());
  commands.add(predict, [options] {
    if (resolve_run_config("", {}, options->run_dir).task == Task::mlm) return fill_masks(*options);
    TrainedSequenceRun run = load_trained_sequence_run(
        "predict", {Task::charlm, Task::adding, Task::classification}, options->run_dir,
        options->checkpoint, options->device);
    const Predictions predictions = predict_file(run, options->input, options->top_k);
    write_records(*options, predictions.records);
    // What the lines that say what they expect score, for a person.
    if (!predictions.metrics.is_null()) {
      nlohmann::json summary = predictions.metrics;
      summary.erase("per_class");
      summary.erase("confusion_matrix");
      spdlog::info("{} lines predicted; scored: {}", predictions.records.size(), summary.dump());
    } else {
      spdlog::info("{} lines predicted", predictions.records.size());
    }
    return 0;
  });
}

}  // namespace seqtrain
