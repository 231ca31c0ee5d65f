#include "io/read_text_file.h"

#include <cerrno>
#include <cstring>

#include "io/io_error.h"
#include "io/read_file.h"

namespace seqtrain {

std::string read_text_file(const std::filesystem::path& path, std::string_view what) {
  std::error_code status_error;
  std::filesystem::file_status status = std::filesystem::status(path, status_error);
  if (!std::filesystem::exists(status))
    throw IoError(path, fmt::format("{} '{}' does not exist: check the path (relative paths are "
                                    "resolved from the working directory)",
                                    what, path.string()));
  if (std::filesystem::is_directory(status))
    throw IoError(
        path, fmt::format("{} '{}' is a directory: give the path of a text file inside it", what,
                          path.string()));
  std::string text = read_file(path, what);
  if (text.empty())
    throw IoError(path, fmt::format("{} '{}' is empty: it must hold UTF-8 text to learn from", what,
                                    path.string()));
  return text;
}

}  // namespace seqtrain
