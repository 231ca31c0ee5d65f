// One step of left-to-right decoding with a key/value cache, for the causal
// Transformer of the sequence tasks (TransformerSequenceModel, task charlm):
// the next token's logits from one new token and the keys and values of the
// tokens before it, instead of re-encoding the whole prefix. Built from
// existing ops over the model's own parameters (same names), so it computes
// what the model's causal graph computes at the prefix's last position:
//   x = embedding(token) + position_embedding(P - 1)        [B, H]
//   per layer l (pre-LN, as the model):
//     q, k, v = split(LN(x) W_qkv^T + b)                    [B, H] each
//     K^T = concat_last(cached K^T [B*heads, d, P-1], k as [B*heads, d, 1])
//     V^T likewise
//     p = softmax(q K^T / sqrt d) over the P keys            [B*heads, 1, P]
//     x = x + (p V) W_o^T + b_o;  x = x + FFN(LN(x))
//   logits = head(LN_final(x))                               [B, V]
// The cache is kept transposed ([B*heads, d, P], keys along the last axis) so
// that appending a step is one concat_last; the step outputs the grown cache
// for the next step. With P - 1 = 0 there is no cache input.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/sequence_model.h"
#include "seqtrain/graph.h"

namespace seqtrain {

struct DecodeStepGraph {
  Graph graph;
  ValueId logits = kNoValue;          // [B, V]
  std::vector<ValueId> keys, values;  // per layer, the grown cache [B*heads, d, P]
};

// Inputs: model_io::kTokens [1, B] int32 (the new tokens), kDecodePosition
// [1, B] int32 (their position, P - 1) and, when cached > 0, per layer
// decode_cache_input(l, true/false) [B*heads, d, cached].
inline constexpr const char* kDecodePosition = "position";
std::string decode_cache_input(int layer, bool keys);

// spec: a charlm transformer's (causal); cached: the tokens before the new one
// (P - 1), less than spec.max_positions.
DecodeStepGraph build_transformer_decode_step(const SequenceModelSpec& spec, std::int64_t batch,
                                              std::int64_t cached);

}  // namespace seqtrain
