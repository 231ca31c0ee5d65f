#include "io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "io/io_error.h"

namespace seqtrain {

struct MappedFile::Mapping {
  std::filesystem::path path;
  void* address = nullptr;  // nullptr for an empty file
  std::size_t size = 0;

  Mapping() = default;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() {
    if (address != nullptr) ::munmap(address, size);
  }
};

MappedFile MappedFile::open(const std::filesystem::path& path, std::string_view what) {
  const int descriptor = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (descriptor < 0)
    throw IoError(path, fmt::format("{} '{}' cannot be opened: {}{}", what, path.string(),
                                    std::strerror(errno),
                                    errno == ENOENT ? " (prepare the data again)" : ""));
  struct stat status {};
  const bool stat_failed = ::fstat(descriptor, &status) != 0;
  if (stat_failed || !S_ISREG(status.st_mode)) {
    const std::string reason = stat_failed ? std::strerror(errno) : "not a regular file";
    ::close(descriptor);
    throw IoError(path, fmt::format("{} '{}' cannot be read: {}", what, path.string(), reason));
  }
  auto mapping = std::make_shared<Mapping>();
  mapping->path = path;
  mapping->size = static_cast<std::size_t>(status.st_size);
  if (mapping->size > 0) {
    void* address = ::mmap(nullptr, mapping->size, PROT_READ, MAP_SHARED, descriptor, 0);
    if (address == MAP_FAILED) {
      const std::string reason = std::strerror(errno);
      ::close(descriptor);
      throw IoError(path, fmt::format("{} '{}' cannot be mapped into memory: {}", what,
                                      path.string(), reason));
    }
    mapping->address = address;
  }
  // The mapping keeps the file's pages; the descriptor is no longer needed.
  ::close(descriptor);
  MappedFile file;
  file.mapping_ = std::move(mapping);
  return file;
}

std::span<const std::byte> MappedFile::bytes() const {
  if (!mapping_ || mapping_->address == nullptr) return {};
  return {static_cast<const std::byte*>(mapping_->address), mapping_->size};
}

const std::filesystem::path& MappedFile::path() const {
  static const std::filesystem::path kNoPath;
  return mapping_ ? mapping_->path : kNoPath;
}

}  // namespace seqtrain
