// Masked-LM token masking (Devlin et al. 2019, section 3.1), as a pure
// function of a random stream, so a dataset can redraw masks every epoch from
// (seed, epoch, sequence) and a resumed run draws the same ones.
//
// For one sequence of ids[0, length):
//   1. The maskable positions are those holding [UNK] or a learned piece
//      (id >= kFirstRegularTokenId); [PAD], [CLS], [SEP] and [MASK] never are.
//   2. k = min(capacity, max(1, round(mask_rate * n))) of the n maskable
//      positions are chosen uniformly without replacement (a partial
//      Fisher-Yates shuffle); none when n = 0. As in BERT's
//      create_pretraining_data, k is exact per sequence rather than a
//      Bernoulli draw per token, so it never exceeds a fixed capacity.
//   3. Each chosen token becomes [MASK] with probability replace_with_mask,
//      else a uniformly random learned piece (never a special token) with
//      probability replace_with_random, else stays unchanged; its original id
//      is the label.
// Draws, in order from `rng`: k next_below for the choice, then per chosen
// position (increasing t) one uniform and, for a random replacement, one
// next_below: at most 5k draws (next_below takes two).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "seqtrain/rng.h"

namespace seqtrain {

struct MlmMaskingOptions {
  double mask_rate = 0.15;           // share of maskable tokens chosen, in (0, 1]
  double replace_with_mask = 0.8;    // of the chosen: become [MASK]
  double replace_with_random = 0.1;  // of the chosen: become a random learned piece
};

// ConfigError naming the option when a rate is out of range (each in [0, 1],
// mask_rate above 0, the two replacement shares summing to at most 1).
void validate_mlm_masking_options(const MlmMaskingOptions& options);

// Whether masking may choose a token: [UNK] and learned pieces.
bool is_maskable_token(std::int32_t id);

// P: the most tokens masked in one sequence of length T ([CLS] and [SEP]
// included, so at most T - 2 maskable): max(1, round(mask_rate * (T - 2))).
std::int64_t mlm_masked_per_sequence(std::int64_t sequence_length, double mask_rate);

struct MlmMaskedTokens {
  std::vector<std::int32_t> positions;  // increasing
  std::vector<std::int32_t> labels;     // original ids at positions
};

// Masks ids in place as described above and returns the chosen positions and
// their original ids. vocab_size must exceed kFirstRegularTokenId.
MlmMaskedTokens mlm_mask_tokens(std::span<std::int32_t> ids, std::int64_t vocab_size,
                                std::int64_t capacity, const MlmMaskingOptions& options, Rng& rng);

}  // namespace seqtrain
