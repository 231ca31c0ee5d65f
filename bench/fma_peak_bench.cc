// The floating-point ceiling of this CPU: fp32 fused multiply-adds on
// registers only (no memory traffic), per thread. Every other benchmark's
// GFLOP/s reads against this figure: 12 independent accumulators of the widest
// vector the build targets hide the FMA latency, so the loop runs at the FMA
// pipes' throughput.
//
// Counter: GFLOP/s (2 FLOP per lane per FMA), summed over threads, per second
// of the main thread's CPU time: the ceiling a core gives when it is yours,
// readable on a shared machine too (wall time there includes waiting).
// Run: OMP_WAIT_POLICY=passive OMP_NUM_THREADS=1 build/release/bench/fma_peak_bench
//      (and OMP_NUM_THREADS=2 for both cores)
#include <benchmark/benchmark.h>
#include <omp.h>

#include <immintrin.h>

namespace {

constexpr int kAccumulators = 12;
constexpr long kIterations = 1L << 24;

// One loop per vector width, each compiled for its own ISA (target
// attributes: the build targets x86-64-v3); the widest the CPU runs is timed.
// The lanes are summed through memory, not _mm512_reduce_add_ps: GCC 12's
// version of that reads an undefined register (-Werror=uninitialized).
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

void BM_FmaPeak(benchmark::State& state) {
  const int threads = omp_get_max_threads();
  const bool avx512 = has_avx512();
  const int lanes = avx512 ? 16 : 8;
  float sink = 0;
  for (auto _ : state) {
#pragma omp parallel reduction(+ : sink)
    {
      const float seed = static_cast<float>(omp_get_thread_num() + 1);
      sink += avx512 ? fma_loop_avx512(seed) : fma_loop_avx2(seed);
    }
    benchmark::DoNotOptimize(sink);
  }
  state.SetLabel(avx512 ? "avx512 (16 lanes)" : "avx2 (8 lanes)");
  const double flop = 2.0 * lanes * kAccumulators * static_cast<double>(kIterations) * threads;
  state.counters["GFLOP/s"] = benchmark::Counter(flop * 1e-9 * static_cast<double>(state.iterations()),
                                                 benchmark::Counter::kIsRate);
  state.counters["threads"] = threads;
}
BENCHMARK(BM_FmaPeak)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
