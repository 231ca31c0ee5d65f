// seqtrain plot RUN_DIR [RUN_DIR...] --out FILE.png: the runs' loss, validation
// and learning-rate curves, drawn by scripts/plot_runs.py (matplotlib) with the
// python3 on PATH ($SEQTRAIN_PYTHON names another).
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli/commands.h"
#include "seqtrain/error.h"

namespace seqtrain {
namespace {

namespace fs = std::filesystem;

// The script: $SEQTRAIN_PLOT_SCRIPT, a package's share/seqtrain/scripts/, or
// the source tree the binary was built from.
fs::path plot_script() {
  if (const char* named = std::getenv("SEQTRAIN_PLOT_SCRIPT"); named != nullptr && *named != '\0')
    return named;
  std::error_code error;
  const fs::path self = fs::read_symlink("/proc/self/exe", error);
  std::vector<fs::path> candidates;
  if (!error)
    candidates.push_back(self.parent_path() / ".." / "share" / "seqtrain" / "scripts" /
                         "plot_runs.py");
  candidates.push_back(fs::path(SEQTRAIN_SOURCE_DIR) / "scripts" / "plot_runs.py");
  for (const fs::path& candidate : candidates)
    if (fs::is_regular_file(candidate, error)) return candidate;
  throw Error(fmt::format("plot: scripts/plot_runs.py not found (looked in {}, {}); set "
                          "SEQTRAIN_PLOT_SCRIPT",
                          candidates.front().string(), candidates.back().string()));
}

}  // namespace

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
    const char* python = std::getenv("SEQTRAIN_PYTHON");
    const std::string interpreter = python != nullptr && *python != '\0' ? python : "python3";
    const std::string script = plot_script().string();
    std::vector<std::string> arguments{interpreter, script, "--out", options->out};
    arguments.insert(arguments.end(), options->runs.begin(), options->runs.end());
    std::vector<char*> argv;
    for (std::string& argument : arguments) argv.push_back(argument.data());
    argv.push_back(nullptr);
    const pid_t child = ::fork();
    if (child == 0) {
      ::execvp(argv[0], argv.data());
      std::fprintf(stderr, "seqtrain: error: plot: cannot run %s (set SEQTRAIN_PYTHON to a "
                           "python3 with matplotlib)\n", argv[0]);
      ::_exit(kUsageExitCode);
    }
    int status = 0;
    if (child < 0 || ::waitpid(child, &status, 0) != child)
      throw Error("plot: cannot start the plotting script");
    // The script has said what went wrong in one line of its own.
    return WIFEXITED(status) ? WEXITSTATUS(status) : kUsageExitCode;
  });
}

}  // namespace seqtrain
