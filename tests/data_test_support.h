// Helpers for the data tests: a private temporary directory per test for the
// files a test writes itself, and exact batch comparison.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "data/sequence_batch.h"

#include "test_directory.h"

namespace seqtrain::testing {

using DataTestDirectory = TestDirectory;

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
