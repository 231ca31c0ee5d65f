// seqtrain plot RUN_DIR [RUN_DIR...] --out FILE.png: the runs' loss, validation
// and learning-rate curves, drawn by scripts/plot_runs.py (matplotlib) with the
// python3 on PATH ($SEQTRAIN_PYTHON names another; $SEQTRAIN_PLOT_SCRIPT
// another script).
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/python_script.h"

namespace seqtrain {

void register_plot_command(CLI::App& app, CommandRegistry& commands) {
  struct Options {
    std::vector<std::string> runs;
    std::string out;
  };
  auto options = std::make_shared<Options>();
  CLI::App* plot = app.add_subcommand(
      "plot", "Draw the loss, validation and learning-rate curves of runs into one image");
  plot->add_option("run_dirs", options->runs, "One or more run directories")->required();
  plot->add_option("--out", options->out, "The image: .png, .svg or .pdf")->required();
  commands.add(plot, [options] {
    std::vector<std::string> arguments{"--out", options->out};
    arguments.insert(arguments.end(), options->runs.begin(), options->runs.end());
    return run_python_script(find_script("plot_runs.py", "SEQTRAIN_PLOT_SCRIPT"), arguments);
  });
}

}  // namespace seqtrain
