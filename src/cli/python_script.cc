#include "cli/python_script.h"

#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "cli/commands.h"
#include "seqtrain/error.h"

namespace seqtrain {

namespace fs = std::filesystem;

fs::path find_script(const std::string& name, const char* override_variable) {
  if (const char* named = std::getenv(override_variable); named != nullptr && *named != '\0')
    return named;
  std::error_code error;
  const fs::path self = fs::read_symlink("/proc/self/exe", error);
  std::vector<fs::path> candidates;
  if (!error)
    candidates.push_back(self.parent_path() / ".." / "share" / "seqtrain" / "scripts" / name);
  candidates.push_back(fs::path(SEQTRAIN_SOURCE_DIR) / "scripts" / name);
  for (const fs::path& candidate : candidates)
    if (fs::is_regular_file(candidate, error)) return candidate;
  throw Error(fmt::format("scripts/{} not found (looked in {}, {}); set {}", name,
                          candidates.front().string(), candidates.back().string(),
                          override_variable));
}

int run_python_script(const fs::path& script, const std::vector<std::string>& arguments) {
  const char* python = std::getenv("SEQTRAIN_PYTHON");
  std::vector<std::string> command{python != nullptr && *python != '\0' ? python : "python3",
                                   script.string()};
  command.insert(command.end(), arguments.begin(), arguments.end());
  std::vector<char*> argv;
  for (std::string& argument : command) argv.push_back(argument.data());
  argv.push_back(nullptr);
  std::fflush(nullptr);  // the child must not repeat what we have buffered
  const pid_t child = ::fork();
  if (child == 0) {
    ::execvp(argv[0], argv.data());
    std::fprintf(stderr,
                 "seqtrain: error: cannot run %s (set SEQTRAIN_PYTHON to a python3 with "
                 "matplotlib)\n",
                 argv[0]);
    ::_exit(kUsageExitCode);
  }
  int status = 0;
  if (child < 0 || ::waitpid(child, &status, 0) != child)
    throw Error(fmt::format("cannot start {}", script.string()));
  return WIFEXITED(status) ? WEXITSTATUS(status) : kUsageExitCode;
}

}  // namespace seqtrain
