// Which vector ISA the cpu backend's hand-written kernels run with. The build
// targets a portable baseline (x86-64-v3: AVX2 + FMA) and also holds an
// AVX-512 variant of the kernels (cpu_variant.h); a backend uses the widest
// variant the CPU runs, or the one SEQTRAIN_CPU_ISA names (to compare them,
// or to test the baseline on an AVX-512 machine). oneDNN's GEMMs choose
// their own ISA at run time whatever this says.
#pragma once

#include <string>
#include <vector>

namespace seqtrain::cpu {

enum class CpuIsa { sse2, avx2, avx512 };

const char* cpu_isa_name(CpuIsa isa);

// The variants this build has that this CPU can run, narrowest first.
std::vector<CpuIsa> usable_cpu_isas();

// The variant a backend made now uses: the widest usable one, or
// SEQTRAIN_CPU_ISA's (avx2, avx512; sse2 in a build for such a machine).
// ConfigError, naming the usable ones, when the variable names another.
CpuIsa selected_cpu_isa();

// The vector features the CPU reports that matter to seqtrain (avx2, fma,
// avx512f, avx512bw, avx512_bf16, amx_bf16, ...), space-separated.
std::string cpu_vector_features();

}  // namespace seqtrain::cpu
