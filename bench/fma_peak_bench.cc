// The floating-point ceiling of this CPU: fp32 fused multiply-adds on
// registers only (no memory traffic), per thread. Every other benchmark's
// GFLOP/s reads against this figure. The loop is src/bench/fma_peak.h's
// (12 independent accumulators of the widest vector the CPU runs), the one
// `seqtrain bench affinity` measures in-process for its fraction of peak.
//
// Counter: GFLOP/s (2 FLOP per lane per FMA), summed over threads, per second
// of the main thread's CPU time: the ceiling a core gives when it is yours,
// readable on a shared machine too (wall time there includes waiting).
// Run: OMP_WAIT_POLICY=passive OMP_NUM_THREADS=1 build/release/bench/fma_peak_bench
//      (and OMP_NUM_THREADS=2 for both cores)
#include <benchmark/benchmark.h>
#include <omp.h>

#include "bench/fma_peak.h"

namespace {

void BM_FmaPeak(benchmark::State& state) {
  const int threads = omp_get_max_threads();
  double flop = 0;
  float sink = 0;
  for (auto _ : state) {
    const seqtrain::FmaLoopRun run = seqtrain::run_fma_loops(threads);
    flop += run.flop;
    sink += run.sink;
    benchmark::DoNotOptimize(sink);
  }
  state.SetLabel(seqtrain::fma_loop_isa());
  state.counters["GFLOP/s"] = benchmark::Counter(flop * 1e-9, benchmark::Counter::kIsRate);
  state.counters["threads"] = threads;
}
BENCHMARK(BM_FmaPeak)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
