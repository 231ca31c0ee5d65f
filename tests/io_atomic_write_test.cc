// Atomic file replacement (io/atomic_write.h): the new content replaces the old
// whole, the unique temp file never outlives the call, and a failure names the
// target.
#include <gtest/gtest.h>

#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "io/atomic_write.h"
#include "io/io_error.h"
#include "io/read_file.h"
#include "test_directory.h"

namespace seqtrain {
namespace {

using testing::TestDirectory;

std::vector<std::string> entries_of(const std::filesystem::path& directory) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(directory))
    names.push_back(entry.path().filename().string());
  return names;
}

TEST(AtomicWrite, ReplacesTheContentWholeAndLeavesOnlyTheTarget) {
  TestDirectory directory;
  const auto path = directory.root() / "record.json";
  write_file_atomically(path, "a longer first version\n");
  write_file_atomically(path, "second\n");
  EXPECT_EQ(read_file(path), "second\n");
  EXPECT_EQ(entries_of(directory.root()), std::vector<std::string>{"record.json"});
}

TEST(AtomicWrite, ConcatenatesThePieces) {
  TestDirectory directory;
  const auto path = directory.root() / "pieces.bin";
  const std::string first = "head|";
  const std::string second = "tail";
  write_file_atomically(path, {std::as_bytes(std::span(first.data(), first.size())),
                               std::as_bytes(std::span(second.data(), second.size()))});
  EXPECT_EQ(read_file(path), "head|tail");
}

TEST(AtomicWrite, FailureIsAnIoErrorNamingTheTargetAndLeavesNoTempFile) {
  TestDirectory directory;
  const auto path = directory.root() / "no_such_dir" / "record.json";
  try {
    write_file_atomically(path, "x");
    FAIL() << "write succeeded";
  } catch (const IoError& error) {
    EXPECT_EQ(error.path(), path);
    EXPECT_NE(std::string(error.what()).find(path.string()), std::string::npos) << error.what();
  }
  EXPECT_TRUE(entries_of(directory.root()).empty());
}

TEST(AtomicWrite, ReplacingADirectoryFailsAndRemovesTheTempFile) {
  TestDirectory directory;
  const auto path = directory.root() / "occupied";
  std::filesystem::create_directories(path / "inside");
  EXPECT_THROW(write_file_atomically(path, "x"), IoError);
  EXPECT_EQ(entries_of(directory.root()), std::vector<std::string>{"occupied"});
}

}  // namespace
}  // namespace seqtrain
