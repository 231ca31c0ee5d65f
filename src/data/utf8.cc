#include "data/utf8.h"

#include <algorithm>

#include "seqtrain/error.h"

namespace seqtrain {
namespace {

[[noreturn]] void throw_invalid_utf8(std::string_view text, std::size_t offset,
                                     std::string_view source_name, std::size_t base_offset,
                                     std::string_view problem) {
  std::string bytes;
  for (std::size_t i = offset; i < std::min(text.size(), offset + 4); ++i)
    bytes += fmt::format("{}{:02x}", bytes.empty() ? "" : " ", static_cast<unsigned char>(text[i]));
  throw DataError(fmt::format(
      "{}: invalid UTF-8 at byte offset {} ({}; bytes {}): convert the file to UTF-8 "
      "(e.g. iconv -f latin1 -t utf-8) or use the byte-level vocabulary, which accepts any bytes",
      source_name, base_offset + offset, problem, bytes));
}

}  // namespace

std::vector<char32_t> decode_utf8(std::string_view text, std::string_view source_name,
                                  std::size_t base_offset) {
  std::vector<char32_t> code_points;
  code_points.reserve(text.size());
  std::size_t offset = 0;
  while (offset < text.size()) {
    auto lead = static_cast<unsigned char>(text[offset]);
    if (lead < 0x80) {
      code_points.push_back(lead);
      ++offset;
      continue;
    }
    // Lead byte 110xxxxx, 1110xxxx or 11110xxx announces 2, 3 or 4 bytes; the
    // smallest code point each length may carry rules out overlong forms.
    int length;
    char32_t code_point;
    char32_t smallest;
    if ((lead & 0xE0) == 0xC0) {
      length = 2, code_point = lead & 0x1F, smallest = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3, code_point = lead & 0x0F, smallest = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4, code_point = lead & 0x07, smallest = 0x10000;
    } else {
      throw_invalid_utf8(text, offset, source_name, base_offset,
                         (lead & 0xC0) == 0x80 ? "continuation byte without a lead byte"
                                               : "byte that never occurs in UTF-8");
    }
    if (offset + length > text.size())
      throw_invalid_utf8(text, offset, source_name, base_offset, "sequence cut off by the end");
    for (int i = 1; i < length; ++i) {
      auto continuation = static_cast<unsigned char>(text[offset + i]);
      if ((continuation & 0xC0) != 0x80)
        throw_invalid_utf8(text, offset, source_name, base_offset,
                           "sequence cut off by a byte that is not a continuation byte");
      code_point = (code_point << 6) | (continuation & 0x3F);
    }
    if (code_point < smallest)
      throw_invalid_utf8(text, offset, source_name, base_offset, "overlong encoding");
    if (code_point >= 0xD800 && code_point <= 0xDFFF)
      throw_invalid_utf8(text, offset, source_name, base_offset, "UTF-16 surrogate");
    if (code_point > 0x10FFFF)
      throw_invalid_utf8(text, offset, source_name, base_offset, "code point above U+10FFFF");
    code_points.push_back(code_point);
    offset += length;
  }
  return code_points;
}

void append_utf8(char32_t code_point, std::string& out) {
  SEQTRAIN_CHECK(code_point <= 0x10FFFF && (code_point < 0xD800 || code_point > 0xDFFF),
                 "U+{:X} is not a Unicode scalar value", static_cast<std::uint32_t>(code_point));
  if (code_point < 0x80) {
    out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    out += static_cast<char>(0xC0 | (code_point >> 6));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    out += static_cast<char>(0xE0 | (code_point >> 12));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code_point >> 18));
    out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  }
}

}  // namespace seqtrain
