// seqtrain: the command line. Each subcommand lives in its own file; this one
// parses, dispatches, and turns every user error into one line and exit code 2.
#include <cstdio>
#include <exception>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "seqtrain/error.h"

int main(int argc, char** argv) {
  using namespace seqtrain;
  // Logs go to stderr: stdout carries results (eval's JSON, generated text).
  spdlog::set_default_logger(spdlog::stderr_color_mt("seqtrain"));
  spdlog::set_pattern("[%Y-%m-%d %H:%M:%S] %v");
  CLI::App app{"seqtrain: a training engine for sequence models (LSTM, GRU, RNN; BERT)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("seqtrain ") + SEQTRAIN_VERSION);
  CommandRegistry commands;
  register_train_command(app, commands);
  register_eval_command(app, commands);
  register_generate_command(app, commands);
  register_info_command(app, commands);
  register_tokenizer_command(app, commands);
  register_data_command(app, commands);
  register_config_command(app, commands);
  register_predict_command(app, commands);
  register_plot_command(app, commands);
  register_bench_command(app, commands);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "seqtrain: error: %s (see seqtrain --help)\n", e.what());
    return kUsageExitCode;
  }
  try {
    return commands.run_selected();
  } catch (const Error& e) {
    spdlog::shutdown();
    std::fprintf(stderr, "seqtrain: error: %s\n", e.what());
    return kUsageExitCode;
  } catch (const InternalError& e) {
    std::fprintf(stderr, "seqtrain: %s\nThis is a bug in seqtrain; please report it.\n", e.what());
    return 70;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "seqtrain: error: %s\n", e.what());
    return 1;
  }
}
