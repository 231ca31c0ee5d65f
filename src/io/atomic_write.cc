#include "io/atomic_write.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "io/io_error.h"

namespace seqtrain {
namespace {

std::string system_reason() {
  return std::strerror(errno);
}

std::filesystem::path directory_of(const std::filesystem::path& path) {
  std::filesystem::path parent = path.parent_path();
  return parent.empty() ? std::filesystem::path(".") : parent;
}

// Closes the descriptor and removes the temp file unless release() was called.
class TempFile {
 public:
  TempFile(int descriptor, std::string path) : descriptor_(descriptor), path_(std::move(path)) {}
  ~TempFile() {
    if (descriptor_ >= 0) ::close(descriptor_);
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  int descriptor() const { return descriptor_; }
  const std::string& path() const { return path_; }
  // Closes the descriptor, reporting failure (a delayed write error shows here).
  int close() {
    int status = ::close(descriptor_);
    descriptor_ = -1;
    return status;
  }
  void release() { path_.clear(); }

 private:
  int descriptor_;
  std::string path_;
};

void write_all(int descriptor, std::span<const std::byte> bytes,
               const std::filesystem::path& target) {
  while (!bytes.empty()) {
    ssize_t written = ::write(descriptor, bytes.data(), bytes.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      throw IoError(target, fmt::format("cannot write '{}': {}", target.string(), system_reason()));
    }
    bytes = bytes.subspan(static_cast<std::size_t>(written));
  }
}

}  // namespace

void write_file_atomically(const std::filesystem::path& path,
                           const std::vector<std::span<const std::byte>>& pieces) {
  const std::filesystem::path directory = directory_of(path);
  std::string temp_template =
      (directory / ("." + path.filename().string() + ".tmp-XXXXXX")).string();
  int descriptor = ::mkstemp(temp_template.data());
  if (descriptor < 0)
    throw IoError(path, fmt::format("cannot create a temp file in '{}' to write '{}': {}",
                                    directory.string(), path.string(), system_reason()));
  TempFile temp(descriptor, temp_template);
  // mkstemp makes the file private (0600); what we write is as readable as any output.
  if (::fchmod(temp.descriptor(), 0644) != 0)
    throw IoError(path,
                  fmt::format("cannot set the mode of '{}': {}", temp.path(), system_reason()));
  for (std::span<const std::byte> piece : pieces) write_all(temp.descriptor(), piece, path);
  if (::fsync(temp.descriptor()) != 0)
    throw IoError(path, fmt::format("cannot fsync '{}' (writing '{}'): {}", temp.path(),
                                    path.string(), system_reason()));
  if (temp.close() != 0)
    throw IoError(path, fmt::format("cannot close '{}' (writing '{}'): {}", temp.path(),
                                    path.string(), system_reason()));
  if (::rename(temp.path().c_str(), path.c_str()) != 0)
    throw IoError(path, fmt::format("cannot rename '{}' to '{}': {}", temp.path(), path.string(),
                                    system_reason()));
  temp.release();
  sync_directory(directory);
}

void write_file_atomically(const std::filesystem::path& path, std::string_view content) {
  write_file_atomically(path, {std::as_bytes(std::span(content.data(), content.size()))});
}

void sync_directory(const std::filesystem::path& directory) {
  int descriptor = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (descriptor < 0)
    throw IoError(directory, fmt::format("cannot open directory '{}': {}", directory.string(),
                                         system_reason()));
  int status = ::fsync(descriptor);
  std::string reason = status != 0 ? system_reason() : std::string();
  ::close(descriptor);
  if (status != 0)
    throw IoError(directory,
                  fmt::format("cannot fsync directory '{}': {}", directory.string(), reason));
}

}  // namespace seqtrain
