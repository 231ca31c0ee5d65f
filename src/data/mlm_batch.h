// MlmBatch: one host-side, batch-major batch of masked-LM pretraining (BERT).
// docs/data_formats.md ("Masked-LM batches") describes the layout in full.
#pragma once

#include <cstdint>

#include "seqtrain/tensor.h"

namespace seqtrain {

struct MlmBatch {
  // [B, T] i32: [CLS] tokens... [SEP], then [PAD] (id 0) up to T. Masked
  // positions already hold their replacement ([MASK], a random token, or the
  // original).
  Tensor input_ids;
  // [B, T] i32, all 0: sequences are packed as one segment.
  Tensor token_type_ids;
  // [B] i32 in 3..T: the attention key length of each row; positions
  // t >= lengths[b] are [PAD] and must be masked out of attention.
  Tensor lengths;
  // [B * P] i32 flat indices b*T + t of the masked tokens, for the decoder's
  // gather. P = masked_per_sequence is a fixed capacity per row, so the shape
  // depends only on (B, T): row b owns slots [b*P, (b+1)*P), its masked
  // positions first in increasing t, then unused slots holding b*T (the row's
  // [CLS], always in bounds).
  Tensor masked_positions;
  // [B * P] i32 the original token id at each masked position; unused slots
  // hold kIgnoreTarget (-100), which the cross-entropy skips.
  Tensor masked_labels;
  // The number of used slots (labels != kIgnoreTarget): the M that the MLM
  // loss and accuracy average over.
  std::int64_t masked_count = 0;

  std::int64_t batch_size() const;           // B
  std::int64_t sequence_length() const;      // T
  std::int64_t masked_per_sequence() const;  // P
};

// Rows [first, first + count) of the batch (a data-parallel rank's share of
// the global batch): the same masks and labels those rows have in it, with
// masked_positions re-based to the slice (b*T + t counts from row first) and
// masked_count recounted over the slice's slots.
MlmBatch slice_rows(const MlmBatch& batch, std::int64_t first, std::int64_t count);

}  // namespace seqtrain
