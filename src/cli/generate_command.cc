// seqtrain generate RUN_DIR: sample text from a character language model.
#include <cmath>
#include <iostream>
#include <random>

#include "backends/device_selection.h"
#include "cli/commands.h"
#include "cli/trained_run.h"
#include "tasks/sampling.h"

namespace seqtrain {

void register_generate_command(CLI::App& app, CommandRegistry& commands) {
  auto options = std::make_shared<SamplingOptions>();
  auto run_dir = std::make_shared<std::string>();
  auto checkpoint = std::make_shared<std::string>();
  auto device = std::make_shared<std::string>("auto");
  CLI::App* generate = app.add_subcommand("generate", "Sample text from a trained charlm run");
  generate->add_option("run_dir", *run_dir, "The run directory")->required();
  generate->add_option("--checkpoint", *checkpoint,
                       "A checkpoint: step_N or a path, looked for in the run directory first "
                       "(default: the latest)");
  generate->add_option("--prompt", options->prompt,
                       "Text the sample continues (default: a newline)");
  generate->add_option("--length", options->length, "Symbols to generate")
      ->check(integer_at_least(1))
      ->capture_default_str();
  generate->add_option("--temperature", options->temperature, "Softmax temperature (> 0)")
      ->check(positive_finite_number())
      ->capture_default_str();
  generate->add_option("--top-k", options->top_k, "Sample among the k likeliest symbols (0 = all)")
      ->check(integer_at_least(0))
      ->capture_default_str();
  auto seed_given = std::make_shared<bool>(false);
  generate->add_option("--seed", options->seed,
                       "Sampling seed (default: a new one each call, printed so it can be reused)")
      ->each([seed_given](const std::string&) { *seed_given = true; });
  generate->add_flag("--greedy", options->greedy,
                     "Take the likeliest symbol every step instead of sampling");
  generate->add_option("--device", *device, kDeviceChoices)
      ->check(device_validator());
  commands.add(generate, [=] {
    TrainedSequenceRun run =
        load_trained_sequence_run("generate", {Task::charlm}, *run_dir, *checkpoint, *device);
    SamplingOptions sampling = *options;
    if (!*seed_given && !sampling.greedy) {
      sampling.seed = (static_cast<std::uint64_t>(std::random_device{}()) << 32) ^
                      static_cast<std::uint64_t>(std::random_device{}());
      std::cerr << "sampling seed " << sampling.seed << " (--seed " << sampling.seed
                << " draws this sample again)\n";
    }
    std::cout << sample_text(*run.model, *run.backend, *run.parameters, *run.vocabulary, sampling)
              << std::endl;
    return 0;
  });
}

}  // namespace seqtrain
