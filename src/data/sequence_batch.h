// SequenceBatch: one host-side, time-major batch for the recurrent sequence
// tasks (character language modelling, sequence classification, the adding
// problem). docs/data_formats.md describes each task's layout in full.
#pragma once

#include <cstdint>

#include "seqtrain/op_types.h"
#include "seqtrain/tensor.h"

namespace seqtrain {

// Target id a loss must skip (positions past a sequence's length, rows that
// carry no example): kIgnoreTarget, seqtrain/op_types.h.

// Input id at positions past a sequence's length. Those positions are never
// read by a model that honours `lengths`; the value only keeps them defined.
inline constexpr std::int32_t kPaddingToken = 0;

struct SequenceBatch {
  // [T, B] i32 token ids (charlm, classification); undefined for the adding problem.
  Tensor tokens;
  // [T, B, F] f32 per-step features (adding problem: F = 2); undefined otherwise.
  Tensor features;
  // [B] i32, each in 1..T: the steps of row b that hold data. Steps t >= lengths[b]
  // are padding.
  Tensor lengths;
  // charlm: [T, B] i32 next-token ids, kIgnoreTarget past a row's length.
  // classification: [B] i32 class ids. adding problem: [B, 1] f32 sums.
  Tensor targets;
  // charlm truncated backpropagation through time: row b continues row b of the
  // previous training batch, so the model carries its recurrent state over
  // (detached). False at the start of every epoch and for every other task.
  bool continues_previous = false;

  std::int64_t steps() const;       // T
  std::int64_t batch_size() const;  // B
};

// Rows [first, first + count) of every tensor of the batch (a data-parallel
// rank's share of the global batch), in the same layouts.
SequenceBatch slice_rows(const SequenceBatch& batch, std::int64_t first, std::int64_t count);

}  // namespace seqtrain
