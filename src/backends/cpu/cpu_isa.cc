#include "backends/cpu/cpu_isa.h"

#include <fmt/format.h>

#include <cstdlib>
#include <string_view>

#include "seqtrain/error.h"

namespace seqtrain::cpu {
namespace {

// The ISA the rest of the build targets (-march=x86-64-v3, or the build
// machine's with SEQTRAIN_NATIVE): the baseline variant's.
constexpr CpuIsa kBaselineIsa =
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512DQ__) && defined(__AVX512VL__)
    CpuIsa::avx512;
#elif defined(__AVX2__) && defined(__FMA__)
    CpuIsa::avx2;
#else
    CpuIsa::sse2;
#endif

#if defined(SEQTRAIN_HAVE_AVX512_VARIANT)
bool cpu_runs_avx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512cd");
}
#endif

}  // namespace

const char* cpu_isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::sse2: return "sse2";
    case CpuIsa::avx2: return "avx2";
    case CpuIsa::avx512: return "avx512";
  }
  return "?";
}

std::vector<CpuIsa> usable_cpu_isas() {
  std::vector<CpuIsa> isas{kBaselineIsa};
#if defined(SEQTRAIN_HAVE_AVX512_VARIANT)
  if (kBaselineIsa != CpuIsa::avx512 && cpu_runs_avx512()) isas.push_back(CpuIsa::avx512);
#endif
  return isas;
}

CpuIsa selected_cpu_isa() {
  const std::vector<CpuIsa> usable = usable_cpu_isas();
  const char* chosen = std::getenv("SEQTRAIN_CPU_ISA");
  if (chosen == nullptr || *chosen == '\0') return usable.back();
  std::string names;
  for (CpuIsa isa : usable) {
    if (std::string_view(chosen) == cpu_isa_name(isa)) return isa;
    names += names.empty() ? "" : ", ";
    names += cpu_isa_name(isa);
  }
  throw ConfigError(fmt::format(
      "SEQTRAIN_CPU_ISA={} is not a kernel variant this build has for this CPU; use one of: {} "
      "(or unset it for the widest)",
      chosen, names));
}

std::string cpu_vector_features() {
  __builtin_cpu_init();
  std::string features;
  auto note = [&](bool present, const char* name) {
    if (!present) return;
    features += features.empty() ? "" : " ";
    features += name;
  };
  note(__builtin_cpu_supports("avx2"), "avx2");
  note(__builtin_cpu_supports("fma"), "fma");
  note(__builtin_cpu_supports("avx512f"), "avx512f");
  note(__builtin_cpu_supports("avx512bw"), "avx512bw");
  note(__builtin_cpu_supports("avx512vl"), "avx512vl");
  note(__builtin_cpu_supports("avx512vnni"), "avx512vnni");
  note(__builtin_cpu_supports("avx512bf16"), "avx512_bf16");
  note(__builtin_cpu_supports("amx-bf16"), "amx_bf16");
  return features.empty() ? "none" : features;
}

}  // namespace seqtrain::cpu
