// The most CPU threads a run may ask for (the config's `threads`, or
// OMP_NUM_THREADS when that is 0): shared by the config check and the cpu
// backend. libgomp crashes creating a team of 100,000; no machine seqtrain
// runs on has more than a few hundred cores.
#pragma once

namespace seqtrain {

inline constexpr int kMaxCpuThreads = 1024;

}  // namespace seqtrain
