// seqtrain config show [CONFIG | RUN_DIR] [--set key=value]...  every key, its value and default
// seqtrain config keys                                           the key reference (markdown)
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "config/resolve_run_config.h"
#include "config/run_config.h"
#include "config/run_config_values.h"
#include "seqtrain/error.h"

namespace seqtrain {
namespace {

struct ConfigShowOptions {
  std::string config;  // a YAML file or a run directory; empty: --set task=... alone
  std::vector<std::string> overrides;
};

RunConfig config_to_show(const ConfigShowOptions& options) {
  if (options.config.empty()) {
    const bool has_task = std::any_of(options.overrides.begin(), options.overrides.end(),
                                      [](const std::string& set) { return set.starts_with("task="); });
    if (!has_task)
      throw ConfigError(
          "config show: give a CONFIG file or run directory, or --set task=charlm|adding|"
          "classification|mlm to see a task's defaults");
    return run_config_from_yaml_text("", "--set", options.overrides);
  }
  if (std::filesystem::is_directory(options.config))
    return load_run_config(config_path_of(options.config).string(), options.overrides);
  return load_run_config(options.config, options.overrides);
}

}  // namespace

void register_config_command(CLI::App& app, CommandRegistry& commands) {
  CLI::App* config = app.add_subcommand("config", "Show a config's keys, or the key reference");
  config->require_subcommand(1);

  auto options = std::make_shared<ConfigShowOptions>();
  CLI::App* show = config->add_subcommand(
      "show", "Every key of a config with its value and default ('*': not the default)");
  show->add_option("config", options->config,
                   "A YAML config or a run directory (its config.yaml); without it, --set "
                   "task=NAME shows that task's defaults");
  show->add_option("--set", options->overrides, "Override a config key: --set training.steps=500")
      ->allow_extra_args(false);
  commands.add(show, [options] {
    std::fputs(format_config_rows(run_config_rows(config_to_show(*options))).c_str(), stdout);
    return 0;
  });

  CLI::App* keys =
      config->add_subcommand("keys", "The reference of every config key (docs/configuration.md)");
  commands.add(keys, [] {
    std::fputs(run_config_reference_markdown().c_str(), stdout);
    return 0;
  });
}

}  // namespace seqtrain
