// Host entry points of the embedding kernels (kernels/embedding.cu, whose
// header has the launch geometry and costs), Backend::embedding_forward and
// embedding_backward:
//   forward   out[i, :] = table[ids[i], :]                  for i < count
//   backward  dtable[v, :] = sum over i with ids[i] = v of dout[i, :]
// table and out are float or __nv_bfloat16 (the same type); dtable is fp32.
//
// An id outside [0, vocabulary) is never used as an address: the forward writes
// zeros to its row and records it in the caller's flag (kernels/bad_index.h),
// which the caller checks after the launch and reports as the DataError the
// CPU backends throw ("token id {} at position {} is outside the vocabulary of
// {}"). The backward skips such ids.
//
// The backward adds with float atomics, so when an id repeats, the order of its
// additions (and the last bits of its gradient row) may change from run to run;
// see embedding.cu for why. Nothing is allocated; count 0 launches nothing but
// the backward's zero fill.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/bad_index.h"

namespace seqtrain::kernels {

template <class Storage>
struct EmbeddingForwardArgs {
  std::int64_t count = 0;                // N ids, below kMaxIndexedPositions
  std::int32_t vocabulary = 0;           // V
  std::int32_t width = 0;                // D
  const Storage* table = nullptr;        // [V, D]
  const std::int32_t* ids = nullptr;     // [N]
  Storage* out = nullptr;                // [N, D]
  unsigned long long* bad_id = nullptr;  // required device flag, zeroed before first use
};

template <class Storage>
struct EmbeddingBackwardArgs {
  std::int64_t count = 0;             // N ids
  std::int32_t vocabulary = 0;        // V
  std::int32_t width = 0;             // D
  const std::int32_t* ids = nullptr;  // [N]
  const Storage* dout = nullptr;      // [N, D]
  float* dtable = nullptr;            // [V, D], overwritten
};

void embedding_forward(const EmbeddingForwardArgs<float>& args, cudaStream_t stream);
void embedding_forward(const EmbeddingForwardArgs<__nv_bfloat16>& args, cudaStream_t stream);
// Two launches on `stream`: dtable = 0, then the scatter-add.
void embedding_backward(const EmbeddingBackwardArgs<float>& args, cudaStream_t stream);
void embedding_backward(const EmbeddingBackwardArgs<__nv_bfloat16>& args, cudaStream_t stream);

}  // namespace seqtrain::kernels
