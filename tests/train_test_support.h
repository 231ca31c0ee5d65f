// Helpers for the train/ tests: a private temporary directory per test, and raw
// file contents for building corrupted files by hand.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "test_directory.h"

namespace seqtrain::testing {

using TrainTestDirectory = TestDirectory;


inline void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace seqtrain::testing
