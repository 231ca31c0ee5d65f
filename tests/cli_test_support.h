// Runs the seqtrain binary (SEQTRAIN_BINARY, set by tests/CMakeLists.txt) the
// way a user would, for the end-to-end CLI tests.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

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

// A fixture for CLI tests: a fresh temporary directory per test, removed after.
class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    directory_ = std::filesystem::temp_directory_path() /
                 (std::string("seqtrain_cli_") + info->name() + "_" + std::to_string(::getpid()));
    std::filesystem::remove_all(directory_);
    std::filesystem::create_directories(directory_);
  }
  void TearDown() override { std::filesystem::remove_all(directory_); }

  std::filesystem::path write(const std::string& name, const std::string& text) {
    const std::filesystem::path path = directory_ / name;
    std::ofstream(path) << text;
    return path;
  }

  // A tiny adding-problem config that trains in well under a second.
  std::string adding_config(const std::string& run_dir, int steps, int checkpoint_every = 0) {
    return "task: adding\nseed: 5\nthreads: 1\nrun_dir: " + run_dir +
           "\nmodel: {cell: lstm, hidden_size: 8}\n"
           "data: {sequence_length: 6, batch_size: 4, validation_size: 8}\n"
           "training:\n  steps: " + std::to_string(steps) +
           "\n  eval_every: 0\n  checkpoint_every: " + std::to_string(checkpoint_every) +
           "\n  log_every: 1\n"
           "  optimizer: {learning_rate: 0.01}\n  schedule: {warmup_steps: 1}\n";
  }

  // Exit code 2, the fragment in the output, and no internal error.
  void expect_user_error(const CommandResult& result, const std::string& fragment) {
    EXPECT_EQ(result.exit_code, 2) << result.output;
    EXPECT_NE(result.output.find(fragment), std::string::npos) << result.output;
    EXPECT_EQ(result.output.find("internal error"), std::string::npos) << result.output;
  }

  std::filesystem::path directory_;
};

}  // namespace seqtrain::testing
