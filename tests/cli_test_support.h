// Runs the seqtrain binary (SEQTRAIN_BINARY, set by tests/CMakeLists.txt) the
// way a user would, for the end-to-end CLI tests.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace seqtrain::testing {

struct CommandResult {
  int exit_code;
  std::string output;  // stdout and stderr, or stdout alone
};

// A shell command's exit status and its standard output.
inline CommandResult run_command(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  std::string output;
  std::array<char, 4096> buffer;
  while (std::size_t n = std::fread(buffer.data(), 1, buffer.size(), pipe))
    output.append(buffer.data(), n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

// `seqtrain <arguments>` through the shell (OMP_WAIT_POLICY=passive, plus
// `environment`: "NAME=value ..."); its output is stdout and stderr together,
// or stdout alone without with_stderr.
inline CommandResult run_seqtrain(const std::string& arguments, bool with_stderr = true,
                                  const std::string& environment = "") {
  return run_command("OMP_WAIT_POLICY=passive " + environment + " " +
                     std::string(SEQTRAIN_BINARY) + " " + arguments +
                     (with_stderr ? " 2>&1" : " 2>/dev/null"));
}

}  // namespace seqtrain::testing
