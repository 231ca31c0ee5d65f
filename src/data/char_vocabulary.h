// CharVocabulary: the symbol <-> id map of the character-level tasks.
//
// Byte level: 256 symbols, id = byte value; any file is valid and nothing is
// unknown. Character level: id 0 is <unk>, ids 1..n are the Unicode code points
// seen in the training text in increasing order; the text must be valid UTF-8
// (invalid bytes are a DataError naming the file and byte offset), and code
// points that training never saw encode as <unk> and are counted.
//
// The vocabulary is saved as JSON in the run directory so that evaluation and
// generation reload exactly the ids training used.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace seqtrain {

enum class VocabularyKind : std::uint8_t { byte, character };

// "byte" and "char", the names the run config uses; "character" is read as "char".
const char* vocabulary_kind_name(VocabularyKind kind);
std::optional<VocabularyKind> vocabulary_kind_from_name(std::string_view name);

class CharVocabulary {
 public:
  static constexpr std::int32_t kCharacterUnknownId = 0;
  static constexpr std::string_view kUnknownSymbol = "<unk>";

  static CharVocabulary byte_level();
  // The distinct code points of `training_code_points`, sorted, after <unk>.
  static CharVocabulary character_level(std::span<const char32_t> training_code_points);
  // Builds the vocabulary of `kind` from a training text (character level:
  // must be valid UTF-8; `source_name` names it in errors).
  static CharVocabulary from_training_text(VocabularyKind kind, std::string_view text,
                                           std::string_view source_name);

  // The symbols `kind` reads from text: bytes, or code points of the strictly
  // decoded UTF-8 (DataError naming source_name and base_offset + offset).
  static std::vector<char32_t> split_symbols(VocabularyKind kind, std::string_view text,
                                             std::string_view source_name,
                                             std::size_t base_offset = 0);

  // Ids of symbols from split_symbols; unseen code points map to <unk> and are
  // added to *unknown_count when given.
  std::vector<std::int32_t> encode_symbols(std::span<const char32_t> symbols,
                                           std::size_t* unknown_count = nullptr) const;
  std::vector<std::int32_t> encode(std::string_view text, std::string_view source_name,
                                   std::size_t* unknown_count = nullptr) const;
  // Text of ids. <unk> decodes to U+FFFD (the replacement character). Byte-level
  // output is the raw bytes, which need not be valid UTF-8.
  std::string decode(std::span<const std::int32_t> ids) const;
  // The printable name of one id ("a", "\n", "<unk>", "<0xff>" for a lone byte).
  std::string symbol_name(std::int32_t id) const;

  VocabularyKind kind() const { return kind_; }
  std::int32_t size() const;
  std::optional<std::int32_t> unknown_id() const;  // character level only

  nlohmann::json to_json() const;
  // DataError naming `source_name` when the JSON is not a vocabulary this
  // version wrote.
  static CharVocabulary from_json(const nlohmann::json& json, std::string_view source_name);
  // Written atomically (io/atomic_write.h: unique temporary file, fsync, rename,
  // fsync of the directory).
  void save(const std::filesystem::path& path) const;
  static CharVocabulary load(const std::filesystem::path& path);

  bool operator==(const CharVocabulary& other) const = default;

 private:
  CharVocabulary(VocabularyKind kind, std::vector<char32_t> code_points)
      : kind_(kind), code_points_(std::move(code_points)) {}

  VocabularyKind kind_;
  std::vector<char32_t> code_points_;  // character level: id i + 1 is code_points_[i]
};

}  // namespace seqtrain
