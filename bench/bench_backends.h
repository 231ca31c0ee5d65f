// The CUDA backend for a benchmark row, through the plug-in: where CUDA is
// unavailable or there is no GPU the row is skipped with the reason (the GPU
// check, scripts/gpu_check.sh, runs these rows on a GPU).
#pragma once

#include <benchmark/benchmark.h>

#include <memory>

#include "seqtrain/backend.h"
#include "seqtrain/error.h"

namespace seqtrain {

inline std::unique_ptr<Backend> cuda_backend_or_skip(benchmark::State& state,
                                                     RnnImpl impl = RnnImpl::fused) {
  try {
    return make_cuda_backend(0, impl);
  } catch (const Error& error) {
    state.SkipWithError(error.what());
    return nullptr;
  }
}

}  // namespace seqtrain
