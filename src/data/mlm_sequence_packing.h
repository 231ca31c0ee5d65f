// MlmSequencePacking: how a split of prepared token shards becomes fixed-length
// masked-LM sequences (full-sentence packing, as RoBERTa's FULL-SENTENCES).
//
// The split's documents, in corpus order, form one stream with a [SEP]
// between consecutive documents:
//   S = doc_0 [SEP] doc_1 [SEP] ... [SEP] doc_{n-1}
// With C = T - 2 content tokens per sequence, sequence i is
//   [CLS] S[i*C, min((i+1)*C, |S|)) [SEP] [PAD]...
// so every sequence but the last is exactly T tokens, a sequence may span
// several short documents and a long document spans several sequences. There
// are ceil(|S| / C) sequences; length(i) = content + 2.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "data/token_shards.h"

namespace seqtrain {

class MlmSequencePacking {
 public:
  // `split` must outlive the packing. sequence_length (T) must be at least 3.
  MlmSequencePacking(const TokenSplit& split, std::int64_t sequence_length);

  std::int64_t sequence_count() const { return sequence_count_; }
  std::int64_t sequence_length() const { return sequence_length_; }
  // |S|: the split's tokens plus one [SEP] between each pair of documents.
  std::int64_t stream_length() const { return stream_length_; }

  // Writes sequence `index` into out[0, T), [PAD] after its end, and returns
  // its length (3..T).
  std::int64_t fill(std::int64_t index, std::span<std::int32_t> out) const;

 private:
  const TokenSplit* split_;
  std::int64_t sequence_length_;
  std::vector<std::int64_t> document_starts_;  // offset of document d in S
  std::int64_t stream_length_ = 0;
  std::int64_t sequence_count_ = 0;
};

}  // namespace seqtrain
