// A private temporary directory per test: <gtest temp dir>/seqtrain_<suite>_<test>_<pid>,
// removed with its contents when the object goes away.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace seqtrain::testing {

class TestDirectory {
 public:
  TestDirectory() {
    const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = std::filesystem::path(::testing::TempDir()) /
            ("seqtrain_" + std::string(test->test_suite_name()) + "_" + test->name() + "_" +
             std::to_string(::getpid()));
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
  }
  ~TestDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(root_, ignored);
  }
  TestDirectory(const TestDirectory&) = delete;
  TestDirectory& operator=(const TestDirectory&) = delete;

  const std::filesystem::path& root() const { return root_; }

  // Writes contents (bytes as given) to root()/name and returns the path.
  std::filesystem::path write(const std::string& name, const std::string& contents) const {
    std::filesystem::path path = root_ / name;
    std::ofstream file(path, std::ios::binary);
    file << contents;
    return path;
  }

 private:
  std::filesystem::path root_;
};

// The whole file as bytes.
inline std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

}  // namespace seqtrain::testing
