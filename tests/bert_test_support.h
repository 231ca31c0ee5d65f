// Helpers for the BERT model tests: small specs and masked-LM batches laid out
// as data/mlm_batch.h describes, built from a seed.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "data/mlm_batch.h"
#include "data/sequence_batch.h"
#include "models/bert.h"
#include "seqtrain/rng.h"

namespace seqtrain::testing {

// hidden 64 with 2 heads: the smallest model whose head dimension (32) the
// attention op supports.
inline BertSpec tiny_bert_spec(bool pre_layernorm = false, float dropout = 0.0f) {
  BertSpec spec;
  spec.vocabulary_size = 23;
  spec.hidden_size = 64;
  spec.layers = 2;
  spec.heads = 2;
  spec.intermediate_size = 40;
  spec.max_positions = 12;
  spec.hidden_dropout = dropout;
  spec.attention_dropout = dropout;
  spec.pre_layernorm = pre_layernorm;
  return spec;
}

// Ids 0..4 stand for [PAD] [CLS] [SEP] [MASK] [UNK]; row b is [CLS], random
// tokens, [SEP] up to lengths[b], then [PAD]. Up to `masked[b]` positions of
// row b (never [CLS]/[SEP]) are masked: replaced by [MASK] and labelled with
// their original token; the row's other slots point at its [CLS] with -100.
inline MlmBatch make_mlm_batch(std::int32_t vocabulary, std::int64_t length,
                               const std::vector<std::int32_t>& lengths,
                               const std::vector<std::int32_t>& masked, std::int64_t slots,
                               std::uint64_t seed) {
  constexpr std::int32_t kCls = 1, kSep = 2, kMask = 3, kFirstWord = 5;
  const std::int64_t batch = static_cast<std::int64_t>(lengths.size());
  Rng rng(seed, 0);
  std::vector<std::int32_t> ids(static_cast<std::size_t>(batch * length), 0);
  std::vector<std::int32_t> positions, labels;
  std::int64_t used = 0;
  for (std::int64_t b = 0; b < batch; ++b) {
    const std::int32_t row_length = lengths[static_cast<std::size_t>(b)];
    std::int32_t* row = ids.data() + b * length;
    row[0] = kCls;
    for (std::int32_t t = 1; t + 1 < row_length; ++t)
      row[t] = kFirstWord + static_cast<std::int32_t>(rng.next_below(vocabulary - kFirstWord));
    row[row_length - 1] = kSep;
    // Every other inner position, up to the row's count, in increasing t.
    std::int64_t count = 0;
    for (std::int32_t t = 1;
         t + 1 < row_length && count < masked[static_cast<std::size_t>(b)] && count < slots;
         t += 2, ++count) {
      positions.push_back(static_cast<std::int32_t>(b * length + t));
      labels.push_back(row[t]);
      row[t] = count % 3 == 2 ? row[t] : kMask;  // some slots keep their token
    }
    used += count;
    for (; count < slots; ++count) {
      positions.push_back(static_cast<std::int32_t>(b * length));
      labels.push_back(kIgnoreTarget);
    }
  }
  MlmBatch result;
  result.input_ids = Tensor::from_vector(ids, {batch, length});
  result.token_type_ids =
      Tensor::from_vector(std::vector<std::int32_t>(ids.size(), 0), {batch, length});
  result.lengths = Tensor::from_vector(lengths, {batch});
  result.masked_positions = Tensor::from_vector(positions, {batch * slots});
  result.masked_labels = Tensor::from_vector(labels, {batch * slots});
  result.masked_count = used;
  return result;
}

}  // namespace seqtrain::testing
