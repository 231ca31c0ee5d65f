// Variants of the cpu backend's hand-written kernels, one per vector ISA,
// chosen at run time (cpu_isa.h). The release build targets x86-64-v3 (AVX2,
// FMA); a kernel file that CMake compiles a second time with
// SEQTRAIN_CPU_VARIANT_AVX512 defined becomes its AVX-512 variant:
//   - everything after this header is compiled for AVX-512 F/BW/DQ/VL/CD
//     (#pragma GCC target), so such a file includes the standard and the
//     seqtrain/ headers first and this one (directly or through
//     float_vector.h, vector_math.h, philox_batch.h) last;
//   - the helpers of those headers live in the inline namespace
//     cpu::SEQTRAIN_CPU_VARIANT (baseline or avx512), so the AVX-512 copies
//     of an inline function never merge with the baseline ones at link time
//     (the baseline code would then run AVX-512 instructions on an AVX2 CPU);
//   - SEQTRAIN_CPU_AVX512 / SEQTRAIN_CPU_AVX2 say which vectors the code may
//     spell out (g++ does not define __AVX512F__ under the pragma).
// With -DSEQTRAIN_NATIVE=ON the baseline is the build machine's own ISA.
#pragma once

#if defined(SEQTRAIN_CPU_VARIANT_AVX512)
#define SEQTRAIN_CPU_VARIANT avx512
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx512cd,prefer-vector-width=512")
#define SEQTRAIN_CPU_AVX512 1
#define SEQTRAIN_CPU_AVX2 1
#else
#define SEQTRAIN_CPU_VARIANT baseline
#if defined(__AVX512F__)
#define SEQTRAIN_CPU_AVX512 1
#else
#define SEQTRAIN_CPU_AVX512 0
#endif
#if defined(__AVX2__) && defined(__FMA__)
#define SEQTRAIN_CPU_AVX2 1
#else
#define SEQTRAIN_CPU_AVX2 0
#endif
#endif

namespace seqtrain::cpu {
inline namespace SEQTRAIN_CPU_VARIANT {}
}  // namespace seqtrain::cpu

// name_of_variant: SEQTRAIN_CPU_VARIANT_NAME(attention_kernels) is
// baseline_attention_kernels or avx512_attention_kernels.
#define SEQTRAIN_CPU_PASTE_(variant, name) variant##_##name
#define SEQTRAIN_CPU_PASTE(variant, name) SEQTRAIN_CPU_PASTE_(variant, name)
#define SEQTRAIN_CPU_VARIANT_NAME(name) SEQTRAIN_CPU_PASTE(SEQTRAIN_CPU_VARIANT, name)
#define SEQTRAIN_CPU_STRINGIFY_(x) #x
#define SEQTRAIN_CPU_STRINGIFY(x) SEQTRAIN_CPU_STRINGIFY_(x)
#define SEQTRAIN_CPU_VARIANT_STRING SEQTRAIN_CPU_STRINGIFY(SEQTRAIN_CPU_VARIANT)
