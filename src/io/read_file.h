// Reading a whole file as it is, for files seqtrain wrote itself (trainer state,
// run records, labels, tokenizer models): any bytes, empty allowed. A user's
// data file goes through read_text_file.h instead, whose messages say what the
// file is for and what to do.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace seqtrain {

// The bytes of `path`; a missing, unreadable or irregular file (a FIFO, a
// device) is an IoError naming it as `what` '<path>'.
std::string read_file(const std::filesystem::path& path, std::string_view what = "file");

}  // namespace seqtrain
