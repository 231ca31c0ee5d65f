#include "data/corpus_files.h"

#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "io/fnv1a64.h"
#include "io/io_error.h"
#include "io/open_regular_file.h"
#include "seqtrain/error.h"

namespace seqtrain {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kBlockBytes = std::size_t{4} << 20;

bool is_glob_pattern(std::string_view input) {
  return input.find_first_of("*?[") != std::string_view::npos;
}

bool is_blank(std::string_view line) {
  return line.find_first_not_of(" \t\f\v\r") == std::string_view::npos;
}

// Reads up to size bytes; 0 at the file's end. IoError naming the file.
std::size_t read_some(int descriptor, char* into, std::size_t size, const fs::path& path) {
  while (true) {
    const ssize_t count = ::read(descriptor, into, size);
    if (count >= 0) return static_cast<std::size_t>(count);
    if (errno == EINTR) continue;
    throw IoError(path, fmt::format("cannot read '{}': {}", path.string(), std::strerror(errno)));
  }
}

}  // namespace

CorpusFile corpus_file(const fs::path& path, std::string_view what) {
  std::error_code ignored;
  if (!fs::exists(path, ignored))
    throw IoError(path, fmt::format("{} '{}' does not exist: check the path (relative paths are "
                                    "resolved from the working directory)",
                                    what, path.string()));
  const OpenedFile opened = open_regular_file(path, what, FileReading::streamed);
  struct stat status {};
  ::fstat(opened.descriptor, &status);
  ::close(opened.descriptor);
  if (opened.size == 0)
    throw IoError(path, fmt::format("{} '{}' is empty: it must hold UTF-8 text to learn from", what,
                                    path.string()));
  return {path, opened.size,
          static_cast<std::int64_t>(status.st_mtim.tv_sec) * 1'000'000'000 +
              status.st_mtim.tv_nsec};
}

namespace {

std::vector<fs::path> glob_matches(const std::string& pattern, std::string_view what) {
  glob_t matches{};
  const int status = ::glob(pattern.c_str(), GLOB_ERR, nullptr, &matches);
  std::vector<fs::path> paths;
  for (std::size_t i = 0; status == 0 && i < matches.gl_pathc; ++i)
    paths.emplace_back(matches.gl_pathv[i]);
  ::globfree(&matches);
  if (status == GLOB_NOMATCH || (status == 0 && paths.empty()))
    throw IoError(pattern, fmt::format("{} pattern '{}' matches no file: check the pattern "
                                       "(relative patterns are resolved from the working "
                                       "directory)",
                                       what, pattern));
  if (status != 0)
    throw IoError(pattern, fmt::format("{} pattern '{}' cannot be matched: a directory on its "
                                       "way cannot be read",
                                       what, pattern));
  return paths;  // glob sorts them
}

}  // namespace

std::vector<CorpusFile> resolve_corpus_files(const std::vector<std::string>& inputs,
                                             std::string_view what) {
  if (inputs.empty()) throw DataError(fmt::format("no {} given: name one or more text files", what));
  std::vector<CorpusFile> files;
  for (const std::string& input : inputs) {
    if (!is_glob_pattern(input)) {
      files.push_back(corpus_file(input, what));
      continue;
    }
    for (const fs::path& path : glob_matches(input, what)) {
      std::error_code ignored;
      if (fs::is_directory(path, ignored)) continue;  // a pattern may match folders too
      files.push_back(corpus_file(path, what));
    }
  }
  return files;
}

std::string corpus_name(const std::vector<CorpusFile>& files) {
  if (files.size() == 1) return fmt::format("'{}'", files.front().path.string());
  return fmt::format("{} files from '{}' to '{}'", files.size(), files.front().path.string(),
                     files.back().path.string());
}

std::uintmax_t corpus_bytes(const std::vector<CorpusFile>& files) {
  std::uintmax_t total = 0;
  for (const CorpusFile& file : files) total += file.size;
  return total;
}

nlohmann::json corpus_files_record(const std::vector<CorpusFile>& files) {
  nlohmann::json record = nlohmann::json::array();
  for (const CorpusFile& file : files)
    record.push_back(
        {{"path", file.path.string()}, {"size", file.size}, {"modified_ns", file.modified_ns}});
  return record;
}

std::string corpus_checksum(const std::vector<CorpusFile>& files, std::string_view what) {
  Fnv1a64 hash;
  std::string block(kBlockBytes, '\0');
  for (const CorpusFile& file : files) {
    const OpenedFile opened = open_regular_file(file.path, what, FileReading::streamed);
    try {
      while (const std::size_t count =
                 read_some(opened.descriptor, block.data(), block.size(), file.path))
        hash.update(std::string_view(block.data(), count));
    } catch (...) {
      ::close(opened.descriptor);
      throw;
    }
    ::close(opened.descriptor);
  }
  return hash.text();
}

nlohmann::json CorpusPosition::to_json() const {
  return {{"file", file}, {"offset", offset}, {"lines", lines}, {"documents", documents}};
}

CorpusPosition CorpusPosition::from_json(const nlohmann::json& value) {
  return {value.at("file").get<std::int64_t>(), value.at("offset").get<std::uintmax_t>(),
          value.at("lines").get<std::int64_t>(), value.at("documents").get<std::int64_t>()};
}

CorpusReader::CorpusReader(std::vector<CorpusFile> files, std::string what, CorpusPosition start)
    : files_(std::move(files)), what_(std::move(what)), position_(start) {
  SEQTRAIN_CHECK(start.file >= 0 && start.file <= static_cast<std::int64_t>(files_.size()),
                 "corpus position in file {} of {}", start.file, files_.size());
}

CorpusReader::~CorpusReader() {
  if (descriptor_ >= 0) ::close(descriptor_);
}

bool CorpusReader::open_next_file() {
  if (position_.file >= static_cast<std::int64_t>(files_.size())) return false;
  const CorpusFile& file = files_[static_cast<std::size_t>(position_.file)];
  descriptor_ = open_regular_file(file.path, what_, FileReading::streamed).descriptor;
  if (::lseek(descriptor_, static_cast<off_t>(position_.offset), SEEK_SET) < 0)
    throw IoError(file.path, fmt::format("cannot read '{}' from byte {}: {}", file.path.string(),
                                         position_.offset, std::strerror(errno)));
  buffer_.clear();
  begin_ = 0;
  file_at_end_ = false;
  return true;
}

void CorpusReader::fill() {
  buffer_.erase(0, begin_);
  begin_ = 0;
  if (buffer_.size() > kMaxCorpusDocumentBytes) {
    const CorpusFile& file = files_[static_cast<std::size_t>(position_.file)];
    throw DataError(fmt::format(
        "{} '{}' has a line longer than {} MiB at byte {}: a corpus is text with line breaks "
        "(documents separated by blank lines)",
        what_, file.path.string(), kMaxCorpusDocumentBytes >> 20, position_.offset));
  }
  const std::size_t old_size = buffer_.size();
  buffer_.resize(old_size + kBlockBytes);
  const std::size_t count =
      read_some(descriptor_, buffer_.data() + old_size, kBlockBytes,
                files_[static_cast<std::size_t>(position_.file)].path);
  buffer_.resize(old_size + count);
  file_at_end_ = count == 0;
}

bool CorpusReader::next_line(std::string_view& line) {
  while (true) {
    if (descriptor_ < 0 && !open_next_file()) return false;
    const std::size_t newline = buffer_.find('\n', begin_);
    if (newline != std::string::npos || (file_at_end_ && begin_ < buffer_.size())) {
      const std::size_t end = newline != std::string::npos ? newline : buffer_.size();
      line = std::string_view(buffer_).substr(begin_, end - begin_);
      const std::size_t consumed = std::min(end + 1, buffer_.size()) - begin_;
      begin_ += consumed;
      position_.offset += consumed;
      ++position_.lines;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      return true;
    }
    if (file_at_end_) {
      // Every file ends with a blank line, so a document never spans two files.
      ::close(descriptor_);
      descriptor_ = -1;
      ++position_.file;
      position_.offset = 0;
      ++position_.lines;
      line = {};
      return true;
    }
    fill();
  }
}

bool CorpusReader::next_document(std::string& document) {
  document.clear();
  std::string_view line;
  while (next_line(line)) {
    if (is_blank(line)) {
      if (document.empty()) continue;
      ++position_.documents;
      return true;
    }
    if (!document.empty()) document += '\n';
    document += line;
    if (document.size() > kMaxCorpusDocumentBytes) {
      const std::size_t file = static_cast<std::size_t>(position_.file);
      throw DataError(fmt::format(
          "{} '{}' has a document (a block of lines without a blank line) longer than {} MiB "
          "before byte {}: separate its documents with blank lines",
          what_, files_[std::min(file, files_.size() - 1)].path.string(),
          kMaxCorpusDocumentBytes >> 20, position_.offset));
    }
  }
  return false;  // the last line of the corpus was its last file's closing blank
}

std::uintmax_t CorpusReader::bytes_done() const {
  std::uintmax_t done = 0;
  for (std::int64_t f = 0; f < position_.file && f < static_cast<std::int64_t>(files_.size()); ++f)
    done += files_[static_cast<std::size_t>(f)].size;
  return done + position_.offset;
}

}  // namespace seqtrain
