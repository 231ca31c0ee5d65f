// The head dimensions the attention op implements on every backend
// (Backend::attention_forward; the CUDA kernel is specialised for these).
// Model specs and the config check them before anything is built.
#pragma once

namespace seqtrain {

inline constexpr int kAttentionHeadDims[] = {32, 64, 128};

constexpr bool is_attention_head_dim(int head_dim) {
  for (int supported : kAttentionHeadDims)
    if (supported == head_dim) return true;
  return false;
}

}  // namespace seqtrain
