// Strict UTF-8 decoding and encoding (RFC 3629): overlong forms, surrogates,
// code points above U+10FFFF and truncated sequences are errors, so a file
// that decodes here round-trips byte for byte.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace seqtrain {

// The code points of `text`. Throws DataError naming `source_name` and the byte
// offset (base_offset + offset in text) of the first invalid sequence.
std::vector<char32_t> decode_utf8(std::string_view text, std::string_view source_name,
                                  std::size_t base_offset = 0);

// Appends the UTF-8 encoding of a valid code point.
void append_utf8(char32_t code_point, std::string& out);

}  // namespace seqtrain
