// The floating-point ceiling of this CPU: fp32 fused multiply-adds on
// registers only (no memory traffic), on each thread of the process's one
// OpenMP pool. 12 independent accumulators of the widest vector the CPU runs
// (AVX-512 where present, else AVX2) hide the FMA latency, so the loop runs
// at the FMA pipes' throughput. bench/fma_peak_bench (Google Benchmark) and
// `seqtrain bench affinity` (the fraction of peak of each point) both run
// this loop, so their figures are one measurement.
#pragma once

#include <string>

namespace seqtrain {

struct FmaLoopRun {
  double flop = 0;  // 2 per lane per FMA, summed over threads
  float sink = 0;   // the accumulators' sum, so the loop is not optimised away
};

// One pass of the loop on each of `threads` threads of the OpenMP pool
// (a parallel region of that many threads).
FmaLoopRun run_fma_loops(int threads);

// "avx512 (16 lanes)" or "avx2 (8 lanes)": the loop this CPU runs.
const char* fma_loop_isa();

struct FmaPeak {
  double gflop_per_s = 0;
  int threads = 0;
  std::string isa;  // fma_loop_isa()
};

// GFLOP/s of run_fma_loops(threads), the best of `passes` passes, per
// second of the calling thread's CPU time (as fma_peak_bench's counter):
// the ceiling the cores give when they are yours, readable on a shared
// machine too, where wall time includes waiting for a core.
FmaPeak measure_fma_peak(int threads, int passes = 3);

}  // namespace seqtrain
