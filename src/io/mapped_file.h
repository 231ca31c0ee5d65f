// MappedFile: a whole file mapped read-only into memory (mmap), for prepared
// token shards: the kernel pages them in as batches read them, and several
// datasets over the same shards share the pages. Copies share one mapping,
// which is unmapped when the last copy goes away.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <span>
#include <string_view>

namespace seqtrain {

class MappedFile {
 public:
  MappedFile() = default;

  // Maps `path`. Throws IoError naming the path (and `what` it is, e.g.
  // "token shard") when it is missing, not a regular file, or cannot be
  // mapped. An empty file maps to an empty span.
  static MappedFile open(const std::filesystem::path& path, std::string_view what);

  std::span<const std::byte> bytes() const;
  std::size_t size() const { return bytes().size(); }
  // Lets the kernel take back the pages read so far (madvise DONTNEED): they
  // stay in the page cache and are read again when touched, so a check that
  // reads every mapped file once holds one file's pages at a time, not all.
  void release_pages() const;
  const std::filesystem::path& path() const;

 private:
  struct Mapping;
  std::shared_ptr<const Mapping> mapping_;
};

}  // namespace seqtrain
