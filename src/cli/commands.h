// The subcommands of `seqtrain`. Each register_* function adds its options to
// the CLI11 app and its action to the registry; main runs the selected one.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

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

// Comma-separated flag values (list_options.cc; --devices serial,cpu,
// --lengths 16,64,256): the entries, duplicates dropped (integers sorted
// ascending). A ConfigError naming the flag, the bad entry and what is
// accepted for an empty list or entry, or an entry not accepted.
std::vector<std::string> parse_name_list(const std::string& flag, const std::string& text,
                                         bool (*accepted)(const std::string&),
                                         const std::string& accepted_words);
std::vector<std::int64_t> parse_integer_list(const std::string& flag, const std::string& text,
                                             std::int64_t minimum, std::int64_t maximum);

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
void register_bench_command(CLI::App& app, CommandRegistry& commands);

}  // namespace seqtrain
