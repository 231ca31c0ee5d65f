// seqtrain train CONFIG [--set key=value]... [--device ...] [--resume RUN_DIR]
#include "backends/device_selection.h"
#include "cli/commands.h"
#include "train/trainer.h"

namespace seqtrain {

void register_train_command(CLI::App& app, CommandRegistry& commands) {
  auto options = std::make_shared<TrainOptions>();
  CLI::App* train = app.add_subcommand("train", "Train a model from a YAML config");
  train->add_option("config", options->config_path,
                    "The run's YAML config (optional with --resume: the run's own config.yaml)");
  train->add_option("--set", options->overrides, "Override a config key: --set training.steps=500")
      ->allow_extra_args(false);
  train->add_option("--device", options->device, kDeviceChoices)
      ->check(device_validator());
  train->add_option("--resume", options->resume_dir,
                    "Continue the run in this directory from its latest checkpoint");
  commands.add(train, [options] { return run_training(*options); });
}

}  // namespace seqtrain
