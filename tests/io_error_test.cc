// IoError (io/io_error.h): every io entry point reports a file it cannot use
// with one error type that names the path, and that error reaches handlers for
// DataError, CheckpointError and Error alike (the io layer does not know which
// the file is).
#include "io/io_error.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <string>

#include "io/atomic_write.h"
#include "io/mapped_file.h"
#include "io/read_file.h"
#include "io/read_text_file.h"
#include "io/safetensors.h"
#include "test_directory.h"

namespace seqtrain {
namespace {

using testing::TestDirectory;

void expect_io_error_naming(const std::filesystem::path& path,
                            const std::function<void()>& action) {
  try {
    action();
    ADD_FAILURE() << "no error for " << path;
  } catch (const IoError& error) {
    EXPECT_EQ(error.path(), path);
    EXPECT_NE(std::string(error.what()).find(path.string()), std::string::npos) << error.what();
  }
  EXPECT_THROW(action(), DataError);
  EXPECT_THROW(action(), CheckpointError);
  EXPECT_THROW(action(), Error);
}

TEST(IoError, EveryReaderNamesTheMissingFile) {
  TestDirectory directory;
  const auto missing = directory.root() / "absent";
  expect_io_error_naming(missing, [&] { read_file(missing); });
  expect_io_error_naming(missing, [&] { read_text_file(missing, "text file"); });
  expect_io_error_naming(missing, [&] { MappedFile::open(missing, "token shard"); });
  expect_io_error_naming(missing, [&] { read_safetensors(missing); });
}

TEST(IoError, DamagedSafetensorsNamesTheFile) {
  TestDirectory directory;
  const auto damaged = directory.write("model.safetensors", "\x40\x00\x00");
  expect_io_error_naming(damaged, [&] { read_safetensors(damaged); });
}

TEST(IoError, WritersNameTheTargetAndSyncNamesTheDirectory) {
  TestDirectory directory;
  const auto missing_directory = directory.root() / "no_such_dir";
  const auto target = missing_directory / "file";
  expect_io_error_naming(target, [&] { write_file_atomically(target, "x"); });
  expect_io_error_naming(target, [&] { write_safetensors(target, {}); });
  expect_io_error_naming(missing_directory, [&] { sync_directory(missing_directory); });
}

}  // namespace
}  // namespace seqtrain
