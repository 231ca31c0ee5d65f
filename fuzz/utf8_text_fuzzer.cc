// The UTF-8 text reader (src/data/utf8.h, src/io/read_text_file.h) and the
// character-level dataset that reads a corpus through it
// (src/data/text_dataset.h). The input is the text file. decode_utf8 must
// accept exactly the strict UTF-8 of RFC 3629 (checked against an
// independent decoder written here from the RFC's table) and re-encode what
// it accepts to the same bytes; a corpus that loads must give batches whose
// ids are in its vocabulary.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "data/text_dataset.h"
#include "data/utf8.h"
#include "fuzz_input.h"
#include "seqtrain/error.h"

using namespace seqtrain;

namespace {

// RFC 3629 section 4, the well-formed byte sequences, as a table.
std::optional<std::vector<char32_t>> reference_decode(std::string_view text) {
  std::vector<char32_t> out;
  std::size_t i = 0;
  auto byte = [&](std::size_t at) { return static_cast<unsigned char>(text[at]); };
  while (i < text.size()) {
    const unsigned char b0 = byte(i);
    int length = 0;
    unsigned char low = 0x80, high = 0xBF;  // the range of the second byte
    if (b0 <= 0x7F)
      length = 1;
    else if (b0 >= 0xC2 && b0 <= 0xDF)
      length = 2;
    else if (b0 == 0xE0)
      length = 3, low = 0xA0;
    else if ((b0 >= 0xE1 && b0 <= 0xEC) || b0 == 0xEE || b0 == 0xEF)
      length = 3;
    else if (b0 == 0xED)
      length = 3, high = 0x9F;
    else if (b0 == 0xF0)
      length = 4, low = 0x90;
    else if (b0 >= 0xF1 && b0 <= 0xF3)
      length = 4;
    else if (b0 == 0xF4)
      length = 4, high = 0x8F;
    else
      return std::nullopt;
    if (i + static_cast<std::size_t>(length) > text.size()) return std::nullopt;
    char32_t code = length == 1   ? b0
                    : length == 2 ? (b0 & 0x1F)
                    : length == 3 ? (b0 & 0x0F)
                                  : (b0 & 0x07);
    for (int k = 1; k < length; ++k) {
      const unsigned char b = byte(i + static_cast<std::size_t>(k));
      if (k == 1 ? (b < low || b > high) : (b < 0x80 || b > 0xBF)) return std::nullopt;
      code = (code << 6) | (b & 0x3F);
    }
    out.push_back(code);
    i += static_cast<std::size_t>(length);
  }
  return out;
}

void check_decoder(std::string_view text) {
  const std::optional<std::vector<char32_t>> expected = reference_decode(text);
  std::optional<std::vector<char32_t>> decoded;
  try {
    decoded = decode_utf8(text, "fuzz input");
  } catch (const Error& error) {
    fuzz::expected_error(error);
  }
  if (decoded.has_value() != expected.has_value())
    fuzz::report_finding(decoded ? "decode_utf8 accepted text that is not strict UTF-8"
                                 : "decode_utf8 refused strict UTF-8");
  if (!decoded) return;
  if (*decoded != *expected) fuzz::report_finding("decode_utf8 gave other code points");
  std::string encoded;
  for (char32_t code_point : *decoded) append_utf8(code_point, encoded);
  if (encoded != text) fuzz::report_finding("decoded text does not encode back to its bytes");
}

void check_dataset(const std::filesystem::path& path, VocabularyKind kind) {
  TextDatasetOptions options;
  options.path = path;
  options.vocabulary_kind = kind;
  options.validation_fraction = 0.25;
  options.batch_size = 2;
  options.sequence_length = 8;
  try {
    TextDataset dataset(options);
    const auto size = dataset.vocabulary().size();
    auto check = [&](const SequenceBatch& batch) {
      const auto lengths = batch.lengths.span<std::int32_t>();
      const auto tokens = batch.tokens.span<std::int32_t>();
      const std::int64_t rows = batch.batch_size();
      for (std::int64_t row = 0; row < rows; ++row)
        for (std::int64_t t = 0; t < lengths[row]; ++t)
          if (tokens[t * rows + row] < 0 || tokens[t * rows + row] >= size)
            fuzz::report_finding("a token id outside the vocabulary");
    };
    check(dataset.next_training_batch());
    for (const SequenceBatch& batch : dataset.validation_batches(2)) check(batch);
  } catch (const Error& error) {
    fuzz::expected_error(error);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::silence_logging();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check_decoder(text);
  const fuzz::FuzzDirectory& directory = fuzz::FuzzDirectory::instance();
  directory.clear();
  const auto path = directory.write("corpus.txt", text);
  check_dataset(path, VocabularyKind::character);
  check_dataset(path, VocabularyKind::byte);
  return 0;
}
