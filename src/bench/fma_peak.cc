#include "bench/fma_peak.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <ctime>

namespace seqtrain {
namespace {

constexpr int kAccumulators = 12;
constexpr long kIterations = 1L << 24;

// One loop per vector width, each compiled for its own ISA (target
// attributes: the build targets x86-64-v3). The lanes are summed through
// memory, not _mm512_reduce_add_ps: GCC 12's version of that reads an
// undefined register (-Werror=uninitialized).
__attribute__((target("avx512f"))) float fma_loop_avx512(float seed) {
  __m512 accumulators[kAccumulators];
  for (int a = 0; a < kAccumulators; ++a)
    accumulators[a] = _mm512_set1_ps(seed * static_cast<float>(a));
  const __m512 multiplier = _mm512_set1_ps(0.999999f);
  const __m512 addend = _mm512_set1_ps(1e-7f);
  for (long i = 0; i < kIterations; ++i)
    for (int a = 0; a < kAccumulators; ++a)
      accumulators[a] = _mm512_fmadd_ps(accumulators[a], multiplier, addend);
  alignas(64) float lanes[16];
  float result = 0;
  for (int a = 0; a < kAccumulators; ++a) {
    _mm512_store_ps(lanes, accumulators[a]);
    for (float lane : lanes) result += lane;
  }
  return result;
}

__attribute__((target("avx2,fma"))) float fma_loop_avx2(float seed) {
  __m256 accumulators[kAccumulators];
  for (int a = 0; a < kAccumulators; ++a)
    accumulators[a] = _mm256_set1_ps(seed * static_cast<float>(a));
  const __m256 multiplier = _mm256_set1_ps(0.999999f);
  const __m256 addend = _mm256_set1_ps(1e-7f);
  for (long i = 0; i < kIterations; ++i)
    for (int a = 0; a < kAccumulators; ++a)
      accumulators[a] = _mm256_fmadd_ps(accumulators[a], multiplier, addend);
  alignas(32) float lanes[8];
  float result = 0;
  for (int a = 0; a < kAccumulators; ++a) {
    _mm256_store_ps(lanes, accumulators[a]);
    for (float lane : lanes) result += lane;
  }
  return result;
}

bool has_avx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f");
}

double thread_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

}  // namespace

const char* fma_loop_isa() {
  return has_avx512() ? "avx512 (16 lanes)" : "avx2 (8 lanes)";
}

FmaLoopRun run_fma_loops(int threads) {
  const bool avx512 = has_avx512();
  const int lanes = avx512 ? 16 : 8;
  float sink = 0;
  int team = 1;
#pragma omp parallel num_threads(threads) reduction(+ : sink)
  {
#pragma omp single
    team = omp_get_num_threads();
    const float seed = static_cast<float>(omp_get_thread_num() + 1);
    sink += avx512 ? fma_loop_avx512(seed) : fma_loop_avx2(seed);
  }
  return {2.0 * lanes * kAccumulators * static_cast<double>(kIterations) * team, sink};
}

FmaPeak measure_fma_peak(int threads, int passes) {
  FmaPeak peak{0, threads, fma_loop_isa()};
  float sink = 0;
  for (int pass = 0; pass < std::max(passes, 1); ++pass) {
    const double begin = thread_cpu_seconds();
    const FmaLoopRun run = run_fma_loops(threads);
    const double seconds = thread_cpu_seconds() - begin;
    sink += run.sink;
    if (seconds > 0) peak.gflop_per_s = std::max(peak.gflop_per_s, run.flop * 1e-9 / seconds);
  }
  volatile float keep = sink;  // the loops' results stay alive
  static_cast<void>(keep);
  return peak;
}

}  // namespace seqtrain
