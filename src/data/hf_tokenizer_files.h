// Hugging Face tokenizer files for a seqtrain SentencePiece model, so that
// AutoTokenizer.from_pretrained(checkpoint) gives seqtrain's token ids and
// pipeline("fill-mask", model=checkpoint) runs:
//   tokenizer.json           the fast-tokenizer ("tokenizers" library) format:
//                            a BPE model with the SentencePiece vocabulary and
//                            the merges its pieces imply, SentencePiece's own
//                            normalisation (its precompiled character map,
//                            runs of spaces collapsed, ends stripped), the
//                            Metaspace "▁" word boundaries, the special tokens
//                            [PAD] [UNK] [CLS] [SEP] [MASK] at ids 0-4 and
//                            BERT's [CLS] A [SEP] (B [SEP]) template
//   tokenizer_config.json    PreTrainedTokenizerFast with those special tokens
//   special_tokens_map.json  the same, as transformers writes it
// The model file is read as the protocol buffer it is (SentencePiece's
// ModelProto: pieces with scores and types, the normalizer spec); nothing
// beyond those fields is needed.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace seqtrain {

// BERT's usual limit, for tokenizers saved without a model (tokenizer train).
inline constexpr std::int64_t kHfDefaultMaxLength = 512;

// File name -> contents. model_bytes: a tokenizer.model written by
// SentencePieceTokenizer::train; a DataError when it cannot be read as one.
std::vector<std::pair<std::string, std::string>> hugging_face_tokenizer_files(
    const std::string& model_bytes, std::int64_t max_length);

}  // namespace seqtrain
