// seqtrain generate RUN_DIR: sample text from a character language model.
#include <cmath>
#include <iostream>
#include <random>

#include "backends/device_selection.h"
#include "cli/commands.h"
#include "config/resolve_run_config.h"
#include "train/checkpoint.h"
#include "train/run_directory.h"
#include "tasks/sampling.h"
#include "tasks/sequence_task.h"

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
    RunConfig config = resolve_run_config("", {}, *run_dir);
    if (config.task != Task::charlm)
      throw ConfigError(
          fmt::format("generate: {} is a run of task {}; only charlm runs generate text",
                      *run_dir, task_name(config.task)));
    // model.impl goes to a cuda backend; elsewhere the fused layers compute the same.
    auto backend = select_backend(*device, static_cast<int>(config.threads), config.model.impl);
    ParameterStore parameters(*backend);
    // The same route as training: the model config.model.type names.
    const std::unique_ptr<SequenceModel> model = make_sequence_model(
        sequence_model_spec(config, *run_dir), parameters, static_cast<std::uint64_t>(config.seed));
    const std::filesystem::path from = resolve_checkpoint_argument(*run_dir, *checkpoint);
    load_checkpoint(from, parameters, nullptr);
    CharVocabulary vocabulary = CharVocabulary::load(vocabulary_path(*run_dir));
    SamplingOptions sampling = *options;
    if (!*seed_given && !sampling.greedy) {
      sampling.seed = (static_cast<std::uint64_t>(std::random_device{}()) << 32) ^
                      static_cast<std::uint64_t>(std::random_device{}());
      std::cerr << "sampling seed " << sampling.seed << " (--seed " << sampling.seed
                << " draws this sample again)\n";
    }
    std::cout << sample_text(*model, *backend, parameters, vocabulary, sampling) << std::endl;
    return 0;
  });
}

}  // namespace seqtrain
