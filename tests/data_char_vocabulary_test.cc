#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "data/char_vocabulary.h"
#include "data/utf8.h"
#include "data_test_support.h"
#include "seqtrain/error.h"

namespace seqtrain {
namespace {

using testing::DataTestDirectory;
using testing::expect_error_mentions;

TEST(CharVocabulary, ByteLevelIdsAreByteValuesAndRoundTripAnyBytes) {
  std::string every_byte;
  for (int value = 0; value < 256; ++value) every_byte += static_cast<char>(value);
  CharVocabulary vocabulary = CharVocabulary::byte_level();
  EXPECT_EQ(vocabulary.size(), 256);
  EXPECT_FALSE(vocabulary.unknown_id().has_value());
  std::vector<std::int32_t> ids = vocabulary.encode(every_byte, "bytes");
  ASSERT_EQ(ids.size(), 256u);
  for (int value = 0; value < 256; ++value) EXPECT_EQ(ids[value], value);
  EXPECT_EQ(vocabulary.decode(ids), every_byte);
  // Invalid UTF-8 is fine at byte level.
  EXPECT_EQ(vocabulary.decode(vocabulary.encode("\xff\xfe", "bytes")), "\xff\xfe");
}

TEST(CharVocabulary, CharacterLevelIdsAreSortedCodePointsAfterUnknown) {
  // b, a, e-acute (U+00E9), snowman (U+2603), grinning face (U+1F600).
  const std::string text =
      "ba\xc3\xa9\xe2\x98\x83\xf0\x9f\x98\x80"
      "ab";
  CharVocabulary vocabulary =
      CharVocabulary::from_training_text(VocabularyKind::character, text, "text");
  EXPECT_EQ(vocabulary.size(), 6);
  EXPECT_EQ(vocabulary.unknown_id(), 0);
  EXPECT_EQ(vocabulary.encode(text, "text"), (std::vector<std::int32_t>{2, 1, 3, 4, 5, 1, 2}));
  EXPECT_EQ(vocabulary.symbol_name(0), "<unk>");
  EXPECT_EQ(vocabulary.symbol_name(3), "\xc3\xa9");
  EXPECT_EQ(vocabulary.decode(vocabulary.encode(text, "text")), text);
}

TEST(CharVocabulary, UnseenCharacterEncodesAsUnknownAndIsCounted) {
  CharVocabulary vocabulary =
      CharVocabulary::from_training_text(VocabularyKind::character, "xy", "train");
  std::size_t unknown = 0;
  EXPECT_EQ(vocabulary.encode("xzy\xc3\xa9", "valid", &unknown),
            (std::vector<std::int32_t>{1, 0, 2, 0}));
  EXPECT_EQ(unknown, 2u);
  // <unk> decodes to U+FFFD.
  EXPECT_EQ(vocabulary.decode(std::vector<std::int32_t>{1, 0}), "x\xef\xbf\xbd");
}

TEST(CharVocabulary, InvalidUtf8IsDataErrorNamingSourceAndByteOffset) {
  const std::pair<std::string, std::string> cases[] = {
      {"lone continuation byte", "ab\x80z"},     {"byte never in UTF-8", "ab\xffz"},
      {"overlong slash", "ab\xc0\xafz"},         {"surrogate", "ab\xed\xa0\x80z"},
      {"above U+10FFFF", "ab\xf4\x90\x80\x80z"}, {"cut by a non-continuation", "ab\xe2\x82z"},
      {"cut by the end", "ab\xe2\x82"},
  };
  for (const auto& [name, text] : cases) {
    SCOPED_TRACE(name);
    expect_error_mentions<DataError>(
        [&] { CharVocabulary::from_training_text(VocabularyKind::character, text, "corpus.txt"); },
        {"corpus.txt", "byte offset 2"});
  }
  expect_error_mentions<DataError>([] { decode_utf8("\xff", "part.txt:3", 40); },
                                   {"part.txt:3", "byte offset 40"});
}

TEST(CharVocabulary, Utf8DecodeMatchesKnownCodePointsAndEncodesBack) {
  const std::string text = "A\xc2\xa2\xe2\x82\xac\xf0\x90\x8d\x88";  // A, cent, euro, U+10348
  std::vector<char32_t> code_points = decode_utf8(text, "text");
  EXPECT_EQ(code_points, (std::vector<char32_t>{0x41, 0xA2, 0x20AC, 0x10348}));
  std::string encoded;
  for (char32_t code_point : code_points) append_utf8(code_point, encoded);
  EXPECT_EQ(encoded, text);
}

TEST(CharVocabulary, JsonRoundTripKeepsEveryId) {
  CharVocabulary character = CharVocabulary::from_training_text(VocabularyKind::character,
                                                                "hello, w\xc3\xb6rld\n", "text");
  nlohmann::json json = nlohmann::json::parse(character.to_json().dump());
  EXPECT_EQ(json["kind"], "char");
  EXPECT_EQ(json["size"], character.size());
  CharVocabulary reloaded = CharVocabulary::from_json(json, "vocabulary.json");
  EXPECT_EQ(reloaded, character);
  EXPECT_EQ(reloaded.encode("world", "x"), character.encode("world", "x"));
  EXPECT_EQ(CharVocabulary::from_json(CharVocabulary::byte_level().to_json(), "v"),
            CharVocabulary::byte_level());
}

TEST(CharVocabulary, SavedFileLoadsBackIdentically) {
  DataTestDirectory directory;
  CharVocabulary vocabulary = CharVocabulary::from_training_text(VocabularyKind::character,
                                                                 "the quick fox \xe2\x98\x83", "t");
  const std::filesystem::path path = directory.root() / "vocabulary.json";
  vocabulary.save(path);
  EXPECT_FALSE(std::filesystem::exists(directory.root() / "vocabulary.json.tmp"));
  EXPECT_EQ(CharVocabulary::load(path), vocabulary);
}

// save() goes through the shared atomic writer: an earlier file is replaced
// whole and no temporary file is left beside it.
TEST(CharVocabulary, SaveReplacesAnEarlierFileAndLeavesNothingElse) {
  DataTestDirectory directory;
  const std::filesystem::path path = directory.root() / "vocabulary.json";
  CharVocabulary::from_training_text(VocabularyKind::character, "a much longer first text", "t")
      .save(path);
  CharVocabulary second = CharVocabulary::from_training_text(VocabularyKind::character, "ab", "t");
  second.save(path);
  EXPECT_EQ(CharVocabulary::load(path), second);
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(directory.root()))
    ++entries;
  EXPECT_EQ(entries, 1u);
}

TEST(CharVocabulary, LoadingMissingFileIsDataErrorNamingIt) {
  DataTestDirectory directory;
  const std::filesystem::path path = directory.root() / "absent.json";
  expect_error_mentions<DataError>([&] { CharVocabulary::load(path); }, {path.string()});
}

TEST(CharVocabulary, LoadingTruncatedJsonIsDataErrorNamingIt) {
  DataTestDirectory directory;
  const std::filesystem::path path = directory.write("vocabulary.json", "{\"format\": \"seq");
  expect_error_mentions<DataError>([&] { CharVocabulary::load(path); },
                                   {path.string(), "not valid JSON"});
}

TEST(CharVocabulary, JsonWithUnsortedCodePointsIsRejected) {
  nlohmann::json json =
      CharVocabulary::from_training_text(VocabularyKind::character, "ab", "t").to_json();
  json["code_points"] = {98, 97};
  expect_error_mentions<DataError>([&] { CharVocabulary::from_json(json, "run/vocabulary.json"); },
                                   {"run/vocabulary.json", "strictly increasing"});
  json["code_points"] = {97, 0xD800};
  expect_error_mentions<DataError>([&] { CharVocabulary::from_json(json, "v.json"); },
                                   {"v.json", "Unicode scalar"});
}

TEST(CharVocabulary, KindNamesRoundTrip) {
  for (VocabularyKind kind : {VocabularyKind::byte, VocabularyKind::character})
    EXPECT_EQ(vocabulary_kind_from_name(vocabulary_kind_name(kind)), kind);
  EXPECT_EQ(vocabulary_kind_from_name("character"), VocabularyKind::character);
  EXPECT_FALSE(vocabulary_kind_from_name("word").has_value());
}

}  // namespace
}  // namespace seqtrain
