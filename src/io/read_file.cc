#include "io/read_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "io/io_error.h"
#include "io/open_regular_file.h"

namespace seqtrain {

std::string read_file(const std::filesystem::path& path, std::string_view what) {
  const int descriptor = open_regular_file(path, what).descriptor;
  std::string content;
  char buffer[65536];
  while (true) {
    ssize_t count = ::read(descriptor, buffer, sizeof buffer);
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) {
      std::string reason = std::strerror(errno);
      ::close(descriptor);
      throw IoError(path, fmt::format("cannot read '{}': {}", path.string(), reason));
    }
    if (count == 0) break;
    content.append(buffer, static_cast<std::size_t>(count));
  }
  ::close(descriptor);
  return content;
}

}  // namespace seqtrain
