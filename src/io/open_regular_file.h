// Opening a file to read it whole, refusing what is not a regular file: a
// FIFO given as a config or corpus blocked forever, and /dev/zero as a corpus
// was read until memory ran out. Every whole-file reader (read_file,
// read_text_file, MappedFile, the config reader) opens through here.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>

namespace seqtrain {

struct OpenedFile {
  int descriptor = -1;     // the caller closes it
  std::uintmax_t size = 0;  // bytes
};

// How the file will be read: whole into memory (so no larger than this
// machine's memory), or streamed in blocks (a corpus, any size).
enum class FileReading { whole, streamed };

// Opens `path` for reading without blocking on a FIFO, and checks that it is
// a regular file (read whole: no larger than this machine's memory). IoErrors
// name the file as `what` '<path>' and say what to give instead.
OpenedFile open_regular_file(const std::filesystem::path& path, std::string_view what,
                             FileReading reading = FileReading::whole);

}  // namespace seqtrain
