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

#if defined(__AVX512F__)
using Vector = __m512;
constexpr int kLanes = 16;
inline Vector broadcast(float x) { return _mm512_set1_ps(x); }
inline Vector fma(Vector a, Vector b, Vector c) { return _mm512_fmadd_ps(a, b, c); }
inline void store(float* lanes, Vector v) { _mm512_store_ps(lanes, v); }
#elif defined(__FMA__)
using Vector = __m256;
constexpr int kLanes = 8;
inline Vector broadcast(float x) { return _mm256_set1_ps(x); }
inline Vector fma(Vector a, Vector b, Vector c) { return _mm256_fmadd_ps(a, b, c); }
inline void store(float* lanes, Vector v) { _mm256_store_ps(lanes, v); }
#else
#error "fma_peak_bench needs FMA (build with -march=native or x86-64-v3)"
#endif

// Through memory, not _mm512_reduce_add_ps: GCC 12's version of that reads an
// undefined register, which -Werror=uninitialized refuses on AVX-512 hosts.
inline float sum(Vector v) {
  alignas(64) float lanes[kLanes];
  store(lanes, v);
  float total = 0;
  for (float lane : lanes) total += lane;
  return total;
}

constexpr int kAccumulators = 12;
constexpr long kIterations = 1L << 24;

float fma_loop(float seed) {
  Vector accumulators[kAccumulators];
  for (int a = 0; a < kAccumulators; ++a) accumulators[a] = broadcast(seed * static_cast<float>(a));
  const Vector multiplier = broadcast(0.999999f);
  const Vector addend = broadcast(1e-7f);
  for (long i = 0; i < kIterations; ++i)
    for (int a = 0; a < kAccumulators; ++a) accumulators[a] = fma(accumulators[a], multiplier, addend);
  float result = 0;
  for (int a = 0; a < kAccumulators; ++a) result += sum(accumulators[a]);
  return result;
}

void BM_FmaPeak(benchmark::State& state) {
  const int threads = omp_get_max_threads();
  float sink = 0;
  for (auto _ : state) {
#pragma omp parallel reduction(+ : sink)
    sink += fma_loop(static_cast<float>(omp_get_thread_num() + 1));
    benchmark::DoNotOptimize(sink);
  }
  const double flop = 2.0 * kLanes * kAccumulators * static_cast<double>(kIterations) * threads;
  state.counters["GFLOP/s"] = benchmark::Counter(flop * 1e-9 * static_cast<double>(state.iterations()),
                                                 benchmark::Counter::kIsRate);
  state.counters["threads"] = threads;
}
BENCHMARK(BM_FmaPeak)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
