// Helpers for the train/ tests: a private temporary directory per test, and raw
// file contents for building corrupted files by hand.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace seqtrain::testing {

// <gtest temp dir>/seqtrain_train_<suite>_<test>_<pid>, removed with its
// contents when the object goes away.
class TrainTestDirectory {
 public:
  TrainTestDirectory() {
    const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = std::filesystem::path(::testing::TempDir()) /
            ("seqtrain_train_" + std::string(test->test_suite_name()) + "_" + test->name() + "_" +
             std::to_string(::getpid()));
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
  }
  ~TrainTestDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(root_, ignored);
  }
  TrainTestDirectory(const TrainTestDirectory&) = delete;
  TrainTestDirectory& operator=(const TrainTestDirectory&) = delete;

  const std::filesystem::path& root() const { return root_; }

 private:
  std::filesystem::path root_;
};

inline std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

inline void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace seqtrain::testing
