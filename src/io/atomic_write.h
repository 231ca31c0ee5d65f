// Crash-safe file replacement, for every file seqtrain writes: checkpoints, run
// records, vocabularies, tokenizers and token shards. A reader sees either the old file or the
// whole new one, never a partial write, even if the process or the machine dies:
//   1. write a temp file with a unique name in the target's directory (same file
//      system; writers of the same target never share a temp file),
//   2. fsync it (its data is on disk before its name is),
//   3. rename it over the target (atomic on POSIX),
//   4. fsync the directory (the rename itself is on disk).
// An existing file is never modified in place. Failures are IoErrors naming the
// file and the system's reason; the temp file is removed then.
#pragma once

#include <cstddef>
#include <filesystem>
#include <span>
#include <string_view>
#include <vector>

namespace seqtrain {

// Writes the concatenation of pieces as the new content of path.
void write_file_atomically(const std::filesystem::path& path,
                           const std::vector<std::span<const std::byte>>& pieces);
void write_file_atomically(const std::filesystem::path& path, std::string_view content);

// fsync of a directory, so that entries created or renamed in it are durable.
void sync_directory(const std::filesystem::path& directory);

}  // namespace seqtrain
