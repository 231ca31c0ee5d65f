// The subcommands of `seqtrain`. Each register_* function adds its options to
// the CLI11 app and its action to the registry; main runs the selected one.
#pragma once

#include <functional>
#include <map>
#include <string>

#include <CLI/CLI.hpp>

namespace seqtrain {

// Exit code for every user error (bad config, data, checkpoint, flag).
inline constexpr int kUsageExitCode = 2;

// --device's check: a value is_device_name accepts (cuda:N included).
CLI::Validator device_validator();

// Numeric options (number_options.cc): an integer >= minimum; a finite number
// > 0 (nan and inf refused).
CLI::Validator integer_at_least(std::int64_t minimum);
CLI::Validator positive_finite_number();

class CommandRegistry {
 public:
  void add(CLI::App* subcommand, std::function<int()> action) {
    actions_[subcommand] = std::move(action);
  }
  int run_selected() {
    for (auto& [subcommand, action] : actions_)
      if (subcommand->parsed()) return action();
    return kUsageExitCode;
  }

 private:
  std::map<CLI::App*, std::function<int()>> actions_;
};

void register_train_command(CLI::App& app, CommandRegistry& commands);
void register_eval_command(CLI::App& app, CommandRegistry& commands);
void register_generate_command(CLI::App& app, CommandRegistry& commands);
void register_info_command(CLI::App& app, CommandRegistry& commands);
void register_tokenizer_command(CLI::App& app, CommandRegistry& commands);
void register_data_command(CLI::App& app, CommandRegistry& commands);
void register_config_command(CLI::App& app, CommandRegistry& commands);
void register_predict_command(CLI::App& app, CommandRegistry& commands);
void register_plot_command(CLI::App& app, CommandRegistry& commands);

}  // namespace seqtrain
