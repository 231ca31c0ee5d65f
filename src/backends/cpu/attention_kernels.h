// The cpu backend's attention kernels (attention_kernels.cc), one set per
// vector ISA variant (cpu_variant.h): the backend picks one when it is made
// (cpu_isa.h) and calls it through this table.
#pragma once

#include <cstdint>

#include "seqtrain/backend.h"

namespace seqtrain::cpu {

// One call's shape and host pointers, laid out as Backend::attention_forward
// says; key lengths already checked to lie in [0, steps].
struct AttentionProblem {
  std::int64_t batch, steps, heads, head_dim;
  const float* qkv;
  const std::int32_t* key_lengths;
  bool causal;  // query i sees keys j <= i only
  AttentionDropout dropout;
};

struct AttentionKernels {
  const char* variant;  // "baseline" or "avx512"
  int float_lanes;      // vector width of the tile products
  // Scratch floats each thread needs; the caller passes threads times as many.
  std::int64_t (*scratch_floats_per_thread)(const AttentionProblem& problem);
  void (*forward)(const AttentionProblem& problem, int threads, float* scratch, float* context,
                  float* log_sum_exp);
  void (*backward)(const AttentionProblem& problem, int threads, float* scratch,
                   const float* context, const float* log_sum_exp, const float* dcontext,
                   float* dqkv);
};

const AttentionKernels& baseline_attention_kernels();
// Only in builds with the AVX-512 variant (SEQTRAIN_HAVE_AVX512_VARIANT).
const AttentionKernels& avx512_attention_kernels();

}  // namespace seqtrain::cpu
