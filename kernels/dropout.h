// Host entry point of the dropout kernel (kernels/dropout.cu, whose header has
// the launch geometry and costs), Backend::dropout_forward:
//   keep_i = probability == 0  or
//            philox_uniform(seed, rng_stream, step, first_index + i) >= probability
//   mask[i] = keep_i ? 1 / (1 - probability) : 0,   y[i] = x[i] * mask[i]
// for i < count, with include/seqtrain/philox.h: the kept/dropped pattern is
// bit for bit the one the serial and cpu backends draw. The gradient is
// dy * mask (the graph's mul). Storage is float or __nv_bfloat16 (the factor
// is applied in fp32; a bf16 mask holds 1 / (1 - p) rounded to bf16). y may be
// the same buffer as x. Nothing is allocated; a count of 0 launches nothing.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

namespace seqtrain::kernels {

template <class Storage>
struct DropoutForwardArgs {
  std::int64_t count = 0;
  float probability = 0.0f;      // in [0, 1); 0 keeps everything (evaluation)
  std::uint64_t seed = 0;        // the run's seed
  std::uint64_t rng_stream = 0;  // the node's Philox stream (Backend's `stream`)
  std::uint64_t step = 0;        // the optimizer step
  const Storage* x = nullptr;    // [count]
  Storage* y = nullptr;          // [count]
  Storage* mask = nullptr;       // [count]
  // Element i draws philox_uniform(.., first_index + i): x is a part of a
  // larger tensor (a data-parallel rank's rows of the global batch).
  std::uint64_t first_index = 0;
};

void dropout_forward(const DropoutForwardArgs<float>& args, cudaStream_t stream);
void dropout_forward(const DropoutForwardArgs<__nv_bfloat16>& args, cudaStream_t stream);

}  // namespace seqtrain::kernels
