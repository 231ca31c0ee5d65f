#include "data/hf_tokenizer_files.h"

#include <fmt/format.h>

#include <cstdint>
#include <algorithm>
#include <cstring>
#include <tuple>
#include <map>
#include <nlohmann/json.hpp>
#include <string_view>
#include <unordered_map>

#include "data/sentencepiece_tokenizer.h"
#include "seqtrain/error.h"

namespace seqtrain {
namespace {

// A protocol buffer reader for the wire format, enough for ModelProto.
class WireReader {
 public:
  explicit WireReader(std::string_view bytes) : bytes_(bytes) {}
  bool done() const { return at_ >= bytes_.size(); }
  std::uint64_t varint() {
    std::uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (done()) throw DataError("tokenizer.model: a protocol buffer ends inside a number");
      const auto byte = static_cast<unsigned char>(bytes_[at_++]);
      value |= static_cast<std::uint64_t>(byte & 0x7F) << shift;
      if ((byte & 0x80) == 0) return value;
    }
    throw DataError("tokenizer.model: a protocol buffer number is too long");
  }
  std::string_view take(std::size_t count) {
    if (count > bytes_.size() - at_)
      throw DataError("tokenizer.model: a protocol buffer field runs past the end");
    const std::string_view taken = bytes_.substr(at_, count);
    at_ += count;
    return taken;
  }
  // Reads one field's key; the value is read with the matching method or skipped.
  std::pair<int, int> key() {
    const std::uint64_t key = varint();
    return {static_cast<int>(key >> 3), static_cast<int>(key & 7)};
  }
  std::string_view bytes() { return take(static_cast<std::size_t>(varint())); }
  float fixed32_float() {
    const std::string_view raw = take(4);
    float value = 0;
    std::memcpy(&value, raw.data(), 4);
    return value;
  }
  void skip(int wire_type) {
    switch (wire_type) {
      case 0: varint(); break;
      case 1: take(8); break;
      case 2: bytes(); break;
      case 5: take(4); break;
      default: throw DataError("tokenizer.model: an unknown protocol buffer wire type");
    }
  }

 private:
  std::string_view bytes_;
  std::size_t at_ = 0;
};

struct Piece {
  std::string text;
  float score = 0;
  int type = 1;  // NORMAL 1, UNKNOWN 2, CONTROL 3, USER_DEFINED 4, UNUSED 5, BYTE 6
};

struct SentencePieceModel {
  std::vector<Piece> pieces;
  std::string precompiled_charsmap;
};

SentencePieceModel parse_model(std::string_view bytes) {
  SentencePieceModel model;
  WireReader reader(bytes);
  while (!reader.done()) {
    const auto [field, wire] = reader.key();
    if (field == 1 && wire == 2) {  // pieces
      WireReader piece_reader(reader.bytes());
      Piece piece;
      while (!piece_reader.done()) {
        const auto [piece_field, piece_wire] = piece_reader.key();
        if (piece_field == 1 && piece_wire == 2) piece.text = piece_reader.bytes();
        else if (piece_field == 2 && piece_wire == 5) piece.score = piece_reader.fixed32_float();
        else if (piece_field == 3 && piece_wire == 0) piece.type = static_cast<int>(piece_reader.varint());
        else piece_reader.skip(piece_wire);
      }
      model.pieces.push_back(std::move(piece));
    } else if (field == 3 && wire == 2) {  // normalizer_spec
      WireReader spec(reader.bytes());
      while (!spec.done()) {
        const auto [spec_field, spec_wire] = spec.key();
        if (spec_field == 2 && spec_wire == 2) model.precompiled_charsmap = spec.bytes();
        else spec.skip(spec_wire);
      }
    } else {
      reader.skip(wire);
    }
  }
  return model;
}

std::string base64(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    std::uint32_t chunk = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) chunk |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) chunk |= static_cast<unsigned char>(bytes[i + 2]);
    out.push_back(kAlphabet[(chunk >> 18) & 63]);
    out.push_back(kAlphabet[(chunk >> 12) & 63]);
    out.push_back(i + 1 < bytes.size() ? kAlphabet[(chunk >> 6) & 63] : '=');
    out.push_back(i + 2 < bytes.size() ? kAlphabet[chunk & 63] : '=');
  }
  return out;
}

// The merges a BPE vocabulary implies: every split of a learned piece into two
// pieces of the vocabulary, ranked by the piece they make (SentencePiece
// applies the merge whose result scores highest: the lowest id), then by the
// ids of the two parts.
nlohmann::json bpe_merges(const SentencePieceModel& model,
                          const std::unordered_map<std::string, std::int64_t>& ids) {
  struct Merge {
    std::int64_t result, left, right;
    std::string left_text, right_text;
  };
  std::vector<Merge> merges;
  for (std::size_t id = 0; id < model.pieces.size(); ++id) {
    const Piece& piece = model.pieces[id];
    if (piece.type != 1) continue;
    // Split at UTF-8 character boundaries only.
    for (std::size_t cut = 1; cut < piece.text.size(); ++cut) {
      if ((static_cast<unsigned char>(piece.text[cut]) & 0xC0) == 0x80) continue;
      const std::string left = piece.text.substr(0, cut), right = piece.text.substr(cut);
      const auto l = ids.find(left), r = ids.find(right);
      if (l == ids.end() || r == ids.end()) continue;
      if (model.pieces[l->second].type != 1 || model.pieces[r->second].type != 1) continue;
      merges.push_back({static_cast<std::int64_t>(id), l->second, r->second, left, right});
    }
  }
  std::sort(merges.begin(), merges.end(), [](const Merge& a, const Merge& b) {
    return std::tie(a.result, a.left, a.right) < std::tie(b.result, b.left, b.right);
  });
  nlohmann::json list = nlohmann::json::array();
  for (const Merge& merge : merges) list.push_back({merge.left_text, merge.right_text});
  return list;
}

nlohmann::json special(std::int64_t id, const std::string& content) {
  return {{"id", id},          {"content", content}, {"single_word", false}, {"lstrip", false},
          {"rstrip", false},   {"normalized", false}, {"special", true}};
}

nlohmann::json metaspace() {
  return {{"type", "Metaspace"}, {"replacement", "\u2581"}, {"prepend_scheme", "always"},
          {"split", true}};
}

}  // namespace

std::vector<std::pair<std::string, std::string>> hugging_face_tokenizer_files(
    const std::string& model_bytes, std::int64_t max_length) {
  const SentencePieceModel model = parse_model(model_bytes);
  const char* names[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  if (model.pieces.size() <= static_cast<std::size_t>(kFirstRegularTokenId))
    throw DataError("tokenizer.model holds too few pieces to be a seqtrain tokenizer");
  for (std::int32_t id = 0; id < kFirstRegularTokenId; ++id)
    if (model.pieces[id].text != names[id])
      throw DataError(fmt::format("tokenizer.model: piece {} is '{}', not {}", id,
                                  model.pieces[id].text, names[id]));

  std::unordered_map<std::string, std::int64_t> ids;
  nlohmann::json vocab = nlohmann::json::object();
  for (std::size_t id = 0; id < model.pieces.size(); ++id) {
    ids.emplace(model.pieces[id].text, static_cast<std::int64_t>(id));
    vocab[model.pieces[id].text] = id;
  }
  nlohmann::json added = nlohmann::json::array();
  for (std::int32_t id = 0; id < kFirstRegularTokenId; ++id) added.push_back(special(id, names[id]));

  // SentencePiece's nmt_nfkc normalisation is its precompiled character map;
  // it also collapses runs of whitespace and strips both ends.
  nlohmann::json normalizers = nlohmann::json::array();
  if (!model.precompiled_charsmap.empty())
    normalizers.push_back(
        {{"type", "Precompiled"}, {"precompiled_charsmap", base64(model.precompiled_charsmap)}});
  normalizers.push_back(
      {{"type", "Replace"}, {"pattern", {{"Regex", " {2,}"}}}, {"content", " "}});
  normalizers.push_back({{"type", "Strip"}, {"strip_left", true}, {"strip_right", true}});

  auto token = [](const char* id, int type_id) {
    return nlohmann::json{{"SpecialToken", {{"id", id}, {"type_id", type_id}}}};
  };
  auto sequence = [](const char* id, int type_id) {
    return nlohmann::json{{"Sequence", {{"id", id}, {"type_id", type_id}}}};
  };
  const nlohmann::json post_processor = {
      {"type", "TemplateProcessing"},
      {"single", {token("[CLS]", 0), sequence("A", 0), token("[SEP]", 0)}},
      {"pair",
       {token("[CLS]", 0), sequence("A", 0), token("[SEP]", 0), sequence("B", 1), token("[SEP]", 1)}},
      {"special_tokens",
       {{"[CLS]", {{"id", "[CLS]"}, {"ids", {kClsTokenId}}, {"tokens", {"[CLS]"}}}},
        {"[SEP]", {{"id", "[SEP]"}, {"ids", {kSepTokenId}}, {"tokens", {"[SEP]"}}}}}}};

  const nlohmann::json tokenizer = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer", {{"type", "Sequence"}, {"normalizers", normalizers}}},
      {"pre_tokenizer", metaspace()},
      {"post_processor", post_processor},
      {"decoder", metaspace()},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", "[UNK]"},
        {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr},
        {"fuse_unk", true},
        {"byte_fallback", false},
        {"ignore_merges", false},
        {"vocab", vocab},
        {"merges", bpe_merges(model, ids)}}}};

  const nlohmann::json special_tokens = {{"pad_token", "[PAD]"},
                                         {"unk_token", "[UNK]"},
                                         {"cls_token", "[CLS]"},
                                         {"sep_token", "[SEP]"},
                                         {"mask_token", "[MASK]"}};
  nlohmann::json config = special_tokens;
  config["tokenizer_class"] = "PreTrainedTokenizerFast";
  config["model_max_length"] = max_length;
  config["clean_up_tokenization_spaces"] = false;
  config["model_input_names"] = {"input_ids", "token_type_ids", "attention_mask"};
  return {{"tokenizer.json", tokenizer.dump(1) + "\n"},
          {"tokenizer_config.json", config.dump(2) + "\n"},
          {"special_tokens_map.json", special_tokens.dump(2) + "\n"}};
}

}  // namespace seqtrain
