#include "io/open_regular_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "io/io_error.h"

namespace seqtrain {

OpenedFile open_regular_file(const std::filesystem::path& path, std::string_view what,
                             FileReading reading) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  const int descriptor = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (descriptor < 0)
    throw IoError(path, fmt::format("{} '{}' cannot be opened: {}{}", what, path.string(),
                                    std::strerror(errno),
                                    errno == EACCES ? " (check its permissions)" : ""));
  struct stat status {};
  if (::fstat(descriptor, &status) != 0) {
    const std::string reason = std::strerror(errno);
    ::close(descriptor);
    throw IoError(path, fmt::format("{} '{}' cannot be read: {}", what, path.string(), reason));
  }
  if (!S_ISREG(status.st_mode)) {
    ::close(descriptor);
    throw IoError(path, fmt::format("{} '{}' is not a regular file ({}): give the path of a file",
                                    what, path.string(),
                                    S_ISDIR(status.st_mode)    ? "a directory"
                                    : S_ISFIFO(status.st_mode) ? "a FIFO"
                                                               : "a device or socket"));
  }
  const auto size = static_cast<std::uintmax_t>(status.st_size);
  const auto memory = static_cast<std::uintmax_t>(::sysconf(_SC_PHYS_PAGES)) *
                      static_cast<std::uintmax_t>(::sysconf(_SC_PAGESIZE));
  if (reading == FileReading::whole && size > memory) {
    ::close(descriptor);
    throw IoError(path, fmt::format("{} '{}' is {:.1f} GiB, more than this machine's {:.1f} GiB of "
                                    "memory, and is read whole: give a smaller file",
                                    what, path.string(), size / 1073741824.0,
                                    memory / 1073741824.0));
  }
  // Reads of a regular file never block; clear the flag all the same.
  ::fcntl(descriptor, F_SETFL, ::fcntl(descriptor, F_GETFL) & ~O_NONBLOCK);
  return {descriptor, size};
}

}  // namespace seqtrain
