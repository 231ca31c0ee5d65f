#include "io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "io/io_error.h"
#include "io/open_regular_file.h"

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
  std::error_code exists_error;
  if (!std::filesystem::exists(path, exists_error))
    throw IoError(path, fmt::format("{} '{}' cannot be opened: {} (prepare the data again)", what,
                                    path.string(), std::strerror(ENOENT)));
  const OpenedFile opened = open_regular_file(path, what);
  const int descriptor = opened.descriptor;
  auto mapping = std::make_shared<Mapping>();
  mapping->path = path;
  mapping->size = static_cast<std::size_t>(opened.size);
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

void MappedFile::release_pages() const {
  if (mapping_ && mapping_->address != nullptr)
    ::madvise(mapping_->address, mapping_->size, MADV_DONTNEED);
}

}  // namespace seqtrain
