// Device helpers of both attention kernel families (kernels/attention.cu,
// fp32 FMA; kernels/attention_tensor_core.cu, WMMA): where a block's (batch,
// head) lies in qkv and context, with its clamped key length, and the dropout
// factors of a run of adjacent key columns. Dropout numbering is Backend's
// AttentionDropout: element n (plus first_index, a data-parallel rank's
// offset into the global batch) is word n % 4 of Philox block n / 4, kept
// when its uniform is >= probability, then scaled by 1 / (1 - probability).
#pragma once

#include <cstdint>

#include "kernels/attention.h"
#include "kernels/bad_index.h"
#include "kernels/device_api.h"
#include "seqtrain/philox.h"

namespace seqtrain::kernels {

// Where block (., bh) finds its head: q of token i at qkv + q + i * token_stride,
// k and v `hidden` and 2 `hidden` further; context row i at i * hidden.
struct AttentionHeadView {
  std::int64_t bh;            // b * heads + h
  std::int64_t q;             // offset of q_0 of (b, h) in qkv and dqkv
  std::int64_t context;       // offset of o_0 of (b, h) in context and dcontext
  std::int64_t hidden;        // heads * d
  std::int64_t token_stride;  // 3 * heads * d
  int steps;                  // T
  int length;                 // L, clamped to [0, T]
};

// The head of block (blockIdx.x, blockIdx.y = b * heads + h). A key length
// outside [0, T] is clamped, and reported once per sequence through
// bad_length (kernels/bad_index.h: position b, value the length) when given.
__device__ __forceinline__ AttentionHeadView attention_head_view(int steps, int heads, int head_dim,
                                                                 const std::int32_t* key_lengths,
                                                                 unsigned long long* bad_length) {
  AttentionHeadView head;
  head.bh = blockIdx.y;
  const std::int64_t b = head.bh / heads, h = head.bh % heads;
  head.hidden = static_cast<std::int64_t>(heads) * head_dim;
  head.token_stride = 3 * head.hidden;
  head.q = b * steps * head.token_stride + h * head_dim;
  head.context = b * steps * head.hidden + h * head_dim;
  head.steps = steps;
  const int length = key_lengths[b];
  head.length = length < 0 ? 0 : length > steps ? steps : length;
  if (head.length != length && bad_length != nullptr && h == 0 && blockIdx.x == 0 &&
      threadIdx.x == 0)
    atomicMax(bad_length, encode_bad_index(b, length));
  return head;
}

// factor[c] = z for the dropout elements first, first + 1, ..., first + kCount - 1
// (plus dropout.first_index when kWithOffset; the tensor-core kernels draw
// without it, which keeps their d 128 forward free of spills on sm_90, and
// refuse an offset: kernels/attention_tensor_core.h).
// The run touches at most (kCount + 2) / 4 + 1 Philox blocks; words are picked
// with compile-time indices (c + offset, offset = first % 4) so they stay in
// registers.
template <int kCount, bool kWithOffset = true>
__device__ __forceinline__ void attention_dropout_factors(const AttentionDropoutParams& dropout,
                                                          std::uint64_t first,
                                                          float (&factor)[kCount]) {
  constexpr int kBlocks = (kCount + 3) / 4 + 1;
  if constexpr (kWithOffset) first += dropout.first_index;  // a data-parallel rank's rows
  const std::uint64_t first_block = first >> 2;
  const std::uint64_t last_block = (first + kCount - 1) >> 2;
  const unsigned offset = static_cast<unsigned>(first & 3);
  std::uint32_t words[4 * kBlocks];
  SEQTRAIN_UNROLL
  for (int block = 0; block < kBlocks; ++block) {
    PhiloxWords drawn{{0, 0, 0, 0}};
    if (first_block + block <= last_block)
      drawn = philox4x32_words(dropout.seed, dropout.stream,
                               (dropout.step << 40) | (first_block + block));
    SEQTRAIN_UNROLL
    for (int word = 0; word < 4; ++word) words[4 * block + word] = drawn.word[word];
  }
  const float keep_scale = 1.0f / (1.0f - dropout.probability);
  SEQTRAIN_UNROLL
  for (int c = 0; c < kCount; ++c) {
    const std::uint32_t bits = offset == 0   ? words[c]
                               : offset == 1 ? words[c + 1]
                               : offset == 2 ? words[c + 2]
                                             : words[c + 3];
    factor[c] = bits_to_uniform(bits) >= dropout.probability ? keep_scale : 0.0f;
  }
}

}  // namespace seqtrain::kernels
