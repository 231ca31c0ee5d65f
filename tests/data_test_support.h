// Helpers for the data tests: a private temporary directory per test for the
// files a test writes itself, and exact batch comparison.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "data/sequence_batch.h"

namespace seqtrain::testing {

// <gtest temp dir>/seqtrain_data_<suite>_<test>_<pid>, removed with its contents
// when the object goes away.
class DataTestDirectory {
 public:
  DataTestDirectory() {
    const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = std::filesystem::path(::testing::TempDir()) /
            ("seqtrain_data_" + std::string(test->test_suite_name()) + "_" + test->name() + "_" +
             std::to_string(::getpid()));
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
  }
  ~DataTestDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(root_, ignored);
  }
  DataTestDirectory(const DataTestDirectory&) = delete;
  DataTestDirectory& operator=(const DataTestDirectory&) = delete;

  const std::filesystem::path& root() const { return root_; }

  std::filesystem::path write(const std::string& name, const std::string& contents) const {
    std::filesystem::path path = root_ / name;
    std::ofstream file(path, std::ios::binary);
    file << contents;
    return path;
  }

 private:
  std::filesystem::path root_;
};

inline ::testing::AssertionResult tensors_identical(const Tensor& actual, const Tensor& expected) {
  if (actual.defined() != expected.defined() || actual.shape() != expected.shape() ||
      actual.dtype() != expected.dtype())
    return ::testing::AssertionFailure()
           << "shape " << shape_string(actual.shape()) << " " << dtype_name(actual.dtype())
           << " vs " << shape_string(expected.shape()) << " " << dtype_name(expected.dtype());
  if (!actual.defined()) return ::testing::AssertionSuccess();
  if (actual.numel() > 0 && std::memcmp(actual.raw(), expected.raw(), actual.bytes()) != 0)
    return ::testing::AssertionFailure() << "contents differ";
  return ::testing::AssertionSuccess();
}

inline void expect_batches_identical(const SequenceBatch& actual, const SequenceBatch& expected) {
  EXPECT_TRUE(tensors_identical(actual.tokens, expected.tokens)) << "tokens";
  EXPECT_TRUE(tensors_identical(actual.features, expected.features)) << "features";
  EXPECT_TRUE(tensors_identical(actual.lengths, expected.lengths)) << "lengths";
  EXPECT_TRUE(tensors_identical(actual.targets, expected.targets)) << "targets";
  EXPECT_EQ(actual.continues_previous, expected.continues_previous);
}

// Runs `statement`, expecting `Exception` whose message contains every one of
// `fragments`.
template <class Exception, class Statement>
void expect_error_mentions(Statement&& statement, std::initializer_list<std::string> fragments) {
  try {
    statement();
    ADD_FAILURE() << "no exception was thrown";
  } catch (const Exception& error) {
    for (const std::string& fragment : fragments)
      EXPECT_NE(std::string(error.what()).find(fragment), std::string::npos)
          << "message '" << error.what() << "' does not mention '" << fragment << "'";
  } catch (const std::exception& error) {
    ADD_FAILURE() << "wrong exception type: " << error.what();
  }
}

}  // namespace seqtrain::testing
