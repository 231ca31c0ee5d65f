#include "data/char_vocabulary.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "data/utf8.h"
#include "io/atomic_write.h"
#include "io/read_text_file.h"
#include "seqtrain/error.h"

namespace seqtrain {
namespace {

constexpr std::string_view kFormatName = "seqtrain.char_vocabulary";
constexpr int kFormatVersion = 1;
constexpr char32_t kReplacementCharacter = 0xFFFD;

bool is_unicode_scalar(std::int64_t value) {
  return value >= 0 && value <= 0x10FFFF && (value < 0xD800 || value > 0xDFFF);
}

}  // namespace

const char* vocabulary_kind_name(VocabularyKind kind) {
  return kind == VocabularyKind::byte ? "byte" : "char";
}

std::optional<VocabularyKind> vocabulary_kind_from_name(std::string_view name) {
  if (name == "byte") return VocabularyKind::byte;
  if (name == "char" || name == "character") return VocabularyKind::character;
  return std::nullopt;
}

CharVocabulary CharVocabulary::byte_level() {
  return CharVocabulary(VocabularyKind::byte, {});
}

CharVocabulary CharVocabulary::character_level(std::span<const char32_t> training_code_points) {
  std::vector<char32_t> distinct(training_code_points.begin(), training_code_points.end());
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  return CharVocabulary(VocabularyKind::character, std::move(distinct));
}

CharVocabulary CharVocabulary::from_training_text(VocabularyKind kind, std::string_view text,
                                                  std::string_view source_name) {
  if (kind == VocabularyKind::byte) return byte_level();
  return character_level(decode_utf8(text, source_name));
}

std::vector<char32_t> CharVocabulary::split_symbols(VocabularyKind kind, std::string_view text,
                                                    std::string_view source_name,
                                                    std::size_t base_offset) {
  if (kind == VocabularyKind::character) return decode_utf8(text, source_name, base_offset);
  std::vector<char32_t> bytes(text.size());
  std::transform(text.begin(), text.end(), bytes.begin(),
                 [](char byte) { return static_cast<char32_t>(static_cast<unsigned char>(byte)); });
  return bytes;
}

std::vector<std::int32_t> CharVocabulary::encode_symbols(std::span<const char32_t> symbols,
                                                         std::size_t* unknown_count) const {
  std::vector<std::int32_t> ids(symbols.size());
  if (kind_ == VocabularyKind::byte) {
    for (std::size_t i = 0; i < symbols.size(); ++i) {
      SEQTRAIN_CHECK(symbols[i] < 256, "symbol {} is not a byte", static_cast<int>(symbols[i]));
      ids[i] = static_cast<std::int32_t>(symbols[i]);
    }
    return ids;
  }
  std::size_t unknown = 0;
  for (std::size_t i = 0; i < symbols.size(); ++i) {
    auto found = std::lower_bound(code_points_.begin(), code_points_.end(), symbols[i]);
    if (found != code_points_.end() && *found == symbols[i]) {
      ids[i] = static_cast<std::int32_t>(found - code_points_.begin()) + 1;
    } else {
      ids[i] = kCharacterUnknownId;
      ++unknown;
    }
  }
  if (unknown_count != nullptr) *unknown_count += unknown;
  return ids;
}

std::vector<std::int32_t> CharVocabulary::encode(std::string_view text,
                                                 std::string_view source_name,
                                                 std::size_t* unknown_count) const {
  return encode_symbols(split_symbols(kind_, text, source_name), unknown_count);
}

std::string CharVocabulary::decode(std::span<const std::int32_t> ids) const {
  std::string text;
  text.reserve(ids.size());
  for (std::int32_t id : ids) {
    SEQTRAIN_CHECK(id >= 0 && id < size(), "id {} outside a vocabulary of {} symbols", id, size());
    if (kind_ == VocabularyKind::byte)
      text += static_cast<char>(static_cast<unsigned char>(id));
    else
      append_utf8(id == kCharacterUnknownId ? kReplacementCharacter : code_points_[id - 1], text);
  }
  return text;
}

std::string CharVocabulary::symbol_name(std::int32_t id) const {
  SEQTRAIN_CHECK(id >= 0 && id < size(), "id {} outside a vocabulary of {} symbols", id, size());
  if (kind_ == VocabularyKind::character && id == kCharacterUnknownId)
    return std::string(kUnknownSymbol);
  char32_t symbol =
      kind_ == VocabularyKind::byte ? static_cast<char32_t>(id) : code_points_[id - 1];
  if (kind_ == VocabularyKind::byte && symbol >= 0x80) return fmt::format("<0x{:02x}>", id);
  std::string name;
  append_utf8(symbol, name);
  return name;
}

std::int32_t CharVocabulary::size() const {
  return kind_ == VocabularyKind::byte ? 256 : static_cast<std::int32_t>(code_points_.size()) + 1;
}

std::optional<std::int32_t> CharVocabulary::unknown_id() const {
  if (kind_ == VocabularyKind::byte) return std::nullopt;
  return kCharacterUnknownId;
}

nlohmann::json CharVocabulary::to_json() const {
  nlohmann::json json = {{"format", kFormatName},
                         {"version", kFormatVersion},
                         {"kind", vocabulary_kind_name(kind_)},
                         {"size", size()}};
  if (kind_ == VocabularyKind::character) {
    json["unknown_id"] = kCharacterUnknownId;
    nlohmann::json code_points = nlohmann::json::array();
    for (char32_t code_point : code_points_)
      code_points.push_back(static_cast<std::uint32_t>(code_point));
    json["code_points"] = std::move(code_points);
  }
  return json;
}

CharVocabulary CharVocabulary::from_json(const nlohmann::json& json, std::string_view source_name) {
  auto fail = [&](std::string_view problem) -> DataError {
    return DataError(
        fmt::format("{}: not a seqtrain character vocabulary: {}", source_name, problem));
  };
  if (!json.is_object()) throw fail("expected a JSON object");
  if (json.value("format", std::string()) != kFormatName)
    throw fail(fmt::format("\"format\" must be \"{}\"", kFormatName));
  if (!json.contains("version") || !json["version"].is_number_integer() ||
      json["version"].get<int>() != kFormatVersion)
    throw fail(fmt::format("\"version\" must be {} (written by another seqtrain version?)",
                           kFormatVersion));
  std::optional<VocabularyKind> kind;
  if (json.contains("kind") && json["kind"].is_string())
    kind = vocabulary_kind_from_name(json["kind"].get<std::string>());
  if (!kind) throw fail("\"kind\" must be \"byte\" or \"char\"");
  CharVocabulary vocabulary = byte_level();
  if (*kind == VocabularyKind::character) {
    if (!json.contains("code_points") || !json["code_points"].is_array())
      throw fail("a character vocabulary needs a \"code_points\" array");
    std::vector<char32_t> code_points;
    for (const nlohmann::json& entry : json["code_points"]) {
      if (!entry.is_number_integer() || !is_unicode_scalar(entry.get<std::int64_t>()))
        throw fail(fmt::format("\"code_points\" holds {}, which is not a Unicode scalar value",
                               entry.dump()));
      auto code_point = static_cast<char32_t>(entry.get<std::int64_t>());
      if (!code_points.empty() && code_point <= code_points.back())
        throw fail("\"code_points\" must be strictly increasing");
      code_points.push_back(code_point);
    }
    vocabulary = CharVocabulary(VocabularyKind::character, std::move(code_points));
  }
  if (json.contains("size") &&
      (!json["size"].is_number_integer() || json["size"].get<std::int64_t>() != vocabulary.size()))
    throw fail(fmt::format("\"size\" is {} but the symbols listed make {}", json["size"].dump(),
                           vocabulary.size()));
  return vocabulary;
}

void CharVocabulary::save(const std::filesystem::path& path) const {
  write_file_atomically(path, to_json().dump(1) + "\n");
}

CharVocabulary CharVocabulary::load(const std::filesystem::path& path) {
  std::string text = read_text_file(path, "vocabulary file");
  nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded())
    throw DataError(
        fmt::format("vocabulary file '{}' is not valid JSON: was it written by "
                    "seqtrain, and completely?",
                    path.string()));
  return from_json(json, path.string());
}

}  // namespace seqtrain
