#include "fuzz_input.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>

namespace seqtrain::fuzz {
namespace {

constexpr std::string_view kMarker = "\n%%file ";

bool is_safe_name(std::string_view name) {
  if (name.empty() || name == "." || name == "..") return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

}  // namespace

std::vector<FuzzFile> split_fuzz_input(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<FuzzFile> files;
  std::size_t marker = input.find(kMarker);
  files.push_back({"", std::string(input.substr(0, marker))});
  while (marker != std::string_view::npos) {
    const std::size_t name_begin = marker + kMarker.size();
    const std::size_t name_end = input.find('\n', name_begin);
    if (name_end == std::string_view::npos) break;
    const std::string_view name = input.substr(name_begin, name_end - name_begin);
    marker = input.find(kMarker, name_end);
    const std::string_view bytes =
        input.substr(name_end + 1, marker == std::string_view::npos ? std::string_view::npos
                                                                    : marker - name_end - 1);
    if (is_safe_name(name)) files.push_back({std::string(name), std::string(bytes)});
  }
  return files;
}

const std::string* find_fuzz_file(const std::vector<FuzzFile>& files, std::string_view name) {
  for (const FuzzFile& file : files)
    if (file.name == name) return &file.bytes;
  return nullptr;
}

FuzzDirectory& FuzzDirectory::instance() {
  static FuzzDirectory directory;
  return directory;
}

FuzzDirectory::FuzzDirectory() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/seqtrain-fuzz-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    std::perror("seqtrain fuzz: mkdtemp");
    std::abort();
  }
  path_ = pattern;
  static const std::filesystem::path* to_remove = &path_;
  std::atexit([] {
    std::error_code ignored;
    std::filesystem::remove_all(*to_remove, ignored);
  });
}

void FuzzDirectory::clear() const {
  for (const auto& entry : std::filesystem::directory_iterator(path_))
    std::filesystem::remove_all(entry.path());
}

std::filesystem::path FuzzDirectory::write(const std::string& name, std::string_view bytes) const {
  const std::filesystem::path file = path_ / name;
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) report_finding("the harness could not write " + file.string());
  return file;
}

void expected_error(const std::exception& error) {
  static const bool verbose = std::getenv("SEQTRAIN_FUZZ_VERBOSE") != nullptr;
  if (verbose) std::fprintf(stderr, "expected error: %s\n", error.what());
}

void silence_logging() {
  spdlog::set_level(spdlog::level::off);
}

void report_finding(const std::string& what) {
  std::fprintf(stderr, "seqtrain fuzz finding: %s\n", what.c_str());
  std::abort();
}

}  // namespace seqtrain::fuzz
