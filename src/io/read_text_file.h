// Reading a user's data file whole, with errors that name the file and say
// what to do. Every dataset and the vocabulary loader read through here.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace seqtrain {

// The bytes of `path`. Throws IoError when the file is missing, is not a
// regular file, cannot be read, or is empty. `what` says what the file is for
// ("training text", "classification validation file") and starts the message.
std::string read_text_file(const std::filesystem::path& path, std::string_view what);

}  // namespace seqtrain
