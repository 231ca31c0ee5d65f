// The cpu backend's pool, memory and copies. The op families live beside it:
// cpu_gemm.cc, cpu_elementwise.cc, cpu_softmax_losses.cc, cpu_layernorm.cc,
// cpu_dropout.cc, cpu_embedding_reshape.cc, cpu_optimizer.cc (rnn.cc: the
// recurrent layer).
#include "backends/cpu/cpu_backend.h"

#include <omp.h>

#include <charconv>
#include <cstdlib>
#include <cstring>

#include "backends/cpu/onednn_gemm.h"
#include "backends/cpu/parallel.h"
#include "seqtrain/cpu_threads.h"

namespace seqtrain {

namespace {

// threads: 0 means OMP_NUM_THREADS when the environment sets it (its first
// entry: "4" or "4,2"), one per core otherwise. Read from the environment, not
// omp_get_max_threads(), which an earlier backend's omp_set_num_threads changes.
int default_thread_count() {
  if (const char* variable = std::getenv("OMP_NUM_THREADS")) {
    long long count = 0;
    const char* end = variable + std::strlen(variable);
    const auto [stop, error] = std::from_chars(variable, end, count);
    const bool parsed = (error == std::errc{} || error == std::errc::result_out_of_range) &&
                        (stop == end || *stop == ',');
    if (parsed && (count > kMaxCpuThreads || error == std::errc::result_out_of_range))
      throw ConfigError(fmt::format(
          "OMP_NUM_THREADS={} asks for more than {} threads; set it to at most the cores ({} "
          "here), or set threads in the config",
          variable, kMaxCpuThreads, omp_get_num_procs()));
    if (parsed && count > 0) return static_cast<int>(count);
  }
  return omp_get_num_procs();
}

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(int threads) {
  return std::make_unique<CpuBackend>(threads);
}

CpuBackend::CpuBackend(int threads, cpu::ScratchGuards scratch_guards)
    : reduction_scratch_("reduction scratch", scratch_guards),
      rnn_scratch_("recurrent-layer scratch", scratch_guards),
      attention_scratch_("attention scratch", scratch_guards) {
  if (threads < 0 || threads > kMaxCpuThreads)
    throw ConfigError(fmt::format(
        "cpu backend: threads must be 0 (one per core) or a count up to {}, got {}",
        kMaxCpuThreads, threads));
  threads_ = threads == 0 ? default_thread_count() : threads;
  isa_ = cpu::selected_cpu_isa();
  attention_kernels_ = &cpu::baseline_attention_kernels();
#if defined(SEQTRAIN_HAVE_AVX512_VARIANT)
  if (isa_ == cpu::CpuIsa::avx512 && isa_ != cpu::usable_cpu_isas().front())
    attention_kernels_ = &cpu::avx512_attention_kernels();
#endif
  // One pool for the process: our loops and oneDNN's kernels both run in it.
  omp_set_num_threads(threads_);
  onednn_ = std::make_unique<OneDnn>(threads_);
}

CpuBackend::~CpuBackend() = default;

void CpuBackend::check_scratch_guards() {
  reduction_scratch_.check_guards();
  rnn_scratch_.check_guards();
  attention_scratch_.check_guards();
}

double* CpuBackend::reduction_scratch(std::int64_t count, const std::source_location& user) {
  check_scratch_guards();
  return reduction_scratch_.reserve<double>(count, user);
}

Tensor CpuBackend::allocate(const Shape& shape, DType dtype) {
  return Tensor::empty(shape, dtype);
}

namespace {

// Copies or zeroes big buffers a piece per thread (one thread rarely saturates
// memory bandwidth); pieces are whole cache lines.
void parallel_copy(int threads, const void* source, void* target, std::size_t bytes) {
  cpu::parallel_for(
      threads, static_cast<std::int64_t>(bytes), 4 * cpu::kElementGrain,
      [&](std::int64_t begin, std::int64_t end) {
        std::memcpy(static_cast<std::byte*>(target) + begin,
                    static_cast<const std::byte*>(source) + begin,
                    static_cast<std::size_t>(end - begin));
      },
      64);
}

}  // namespace

void CpuBackend::copy_from_host(const Tensor& host, Tensor& target) {
  SEQTRAIN_CHECK(host.bytes() == target.bytes(), "copy of {} bytes into {}", host.bytes(),
                 target.bytes());
  if (host.bytes() > 0 && host.raw() != target.raw())
    parallel_copy(threads_, host.raw(), target.raw(), host.bytes());
}

void CpuBackend::copy_to_host(const Tensor& source, Tensor& host) {
  copy_from_host(source, host);
}

void CpuBackend::fill_zero(Tensor& x) {
  auto* data = static_cast<std::byte*>(x.raw());
  cpu::parallel_for(
      threads_, static_cast<std::int64_t>(x.bytes()), 4 * cpu::kElementGrain,
      [&](std::int64_t begin, std::int64_t end) {
        std::memset(data + begin, 0, static_cast<std::size_t>(end - begin));
      },
      64);
}

}  // namespace seqtrain
