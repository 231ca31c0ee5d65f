// Multi-head self-attention, forward + backward, fp32: batch 16, 8 heads,
// d 64, T 128 and 512, from one fused qkv buffer [B, T, 3, heads, d] with a
// key padding mask. scripts/bench_pytorch_attention.py times PyTorch's
// scaled_dot_product_attention on the same shapes, masks and threads.
//   seqtrain/cpu      the tiled, online-softmax kernels (backends/cpu/attention.cc)
//   seqtrain/serial   the scalar oracle, at batch 2 (the affinity baseline)
//   seqtrain/cuda     the fp32 kernels (kernels/attention.cu); CudaBf16: with
//                     training.precision bf16, the tensor-core kernels
//                     (kernels/attention_tensor_core.cu), f32 activations
// Arguments: T, padded (1: key lengths fall evenly from T to about T/2 over
// the batch, b -> T - b T / (2 B); 0: every key valid), dropout in percent.
// Counters: tokens/s (B * T per iteration, padding included) and GFLOP/s
// counting 14 T L d per (sequence, head) for L valid keys (forward: QK^T and
// PV, 4 T L d; backward: QK^T, dO V^T, dV, dK, dQ, 10 T L d), the same count
// as the PyTorch script, so the ratio of either counter is the ratio of times.
// BM_AttentionCausal_SeqtrainCpu: the same with causal masking (query i sees
// keys j <= i), counting 14 d per visible (query, key) pair, T (T + 1) / 2 of
// them per head: its time against the unmasked row's is the work the skipped
// tiles save (docs/kernels.md, attention.cu, Causal).
//
// Run: OMP_NUM_THREADS=2 build/release/bench/attention_bench
#include <benchmark/benchmark.h>
#include <omp.h>

#include <algorithm>

#include "bench_backends.h"

#include "seqtrain/backend.h"
#include "seqtrain/parameters.h"
#include "seqtrain/rng.h"

namespace seqtrain {
namespace {

constexpr std::int64_t kHeads = 8, kHeadDim = 64;

std::vector<std::int32_t> key_lengths(std::int64_t batch, std::int64_t steps, bool padded) {
  std::vector<std::int32_t> lengths(static_cast<std::size_t>(batch));
  for (std::int64_t b = 0; b < batch; ++b)
    lengths[static_cast<std::size_t>(b)] =
        static_cast<std::int32_t>(padded ? steps - b * steps / (2 * batch) : steps);
  return lengths;
}

// Which passes an iteration times: both (the headline figure), or one of them
// (the other runs once before the loop, so backward has its inputs).
enum class Passes { kBoth, kForward, kBackward };

void run_attention(benchmark::State& state, Backend& backend, std::int64_t batch,
                   Passes passes = Passes::kBoth, bool causal = false) {
  const std::int64_t steps = state.range(0);
  const bool padded = state.range(1) != 0;
  const float dropout_probability = static_cast<float>(state.range(2)) / 100.0f;
  const Shape qkv_shape{batch, steps, 3, kHeads, kHeadDim};
  const Shape context_shape{batch, steps, kHeads * kHeadDim};
  auto make = [&](const Shape& shape, std::uint64_t stream) {
    Rng rng(17, stream);
    Tensor host = uniform_tensor(shape, 1.0f, rng);
    Tensor tensor = backend.allocate(shape, DType::f32);
    backend.copy_from_host(host, tensor);
    return tensor;
  };
  Tensor qkv = make(qkv_shape, 1), dcontext = make(context_shape, 2);
  const std::vector<std::int32_t> lengths_vector = key_lengths(batch, steps, padded);
  Tensor lengths = Tensor::from_vector(lengths_vector, {batch});
  Tensor context = backend.allocate(context_shape, DType::f32);
  Tensor lse = backend.allocate({batch, kHeads, steps}, DType::f32);
  Tensor dqkv = backend.allocate(qkv_shape, DType::f32);
  AttentionDropout dropout{dropout_probability, 5, 3, 0};
  if (passes == Passes::kBackward)
    backend.attention_forward(qkv, lengths, causal, dropout, context, lse);
  for (auto _ : state) {
    if (passes != Passes::kBackward)
      backend.attention_forward(qkv, lengths, causal, dropout, context, lse);
    if (passes != Passes::kForward)
      backend.attention_backward(qkv, lengths, causal, context, lse, dcontext, dropout, dqkv);
    benchmark::DoNotOptimize(dqkv.raw());
    benchmark::DoNotOptimize(context.raw());
    if (passes == Passes::kBoth) ++dropout.step;
    backend.synchronize();  // a GPU's queued work is part of the time
  }
  const double flops_per_tld =
      passes == Passes::kBoth ? 14.0 : passes == Passes::kForward ? 4.0 : 10.0;
  double flops = 0.0;
  for (std::int32_t length : lengths_vector) {
    double pairs = static_cast<double>(steps) * length;  // (query, visible key)
    if (causal) {
      pairs = 0.0;
      for (std::int64_t i = 0; i < steps; ++i)
        pairs += static_cast<double>(std::min<std::int64_t>(length, i + 1));
    }
    flops += flops_per_tld * static_cast<double>(kHeads * kHeadDim) * pairs;
  }
  const double iterations = static_cast<double>(state.iterations());
  state.counters["tokens_per_s"] = benchmark::Counter(
      iterations * static_cast<double>(batch * steps), benchmark::Counter::kIsRate);
  state.counters["GFLOP_per_s"] =
      benchmark::Counter(iterations * flops / 1e9, benchmark::Counter::kIsRate);
  state.counters["threads"] = omp_get_max_threads();
}

void BM_Attention_SeqtrainCpu(benchmark::State& state) {
  auto backend = make_cpu_backend(omp_get_max_threads());
  run_attention(state, *backend, 16);
}

void BM_AttentionCausal_SeqtrainCpu(benchmark::State& state) {
  auto backend = make_cpu_backend(omp_get_max_threads());
  run_attention(state, *backend, 16, Passes::kBoth, true);
}

void BM_AttentionForward_SeqtrainCpu(benchmark::State& state) {
  auto backend = make_cpu_backend(omp_get_max_threads());
  run_attention(state, *backend, 16, Passes::kForward);
}

void BM_AttentionBackward_SeqtrainCpu(benchmark::State& state) {
  auto backend = make_cpu_backend(omp_get_max_threads());
  run_attention(state, *backend, 16, Passes::kBackward);
}

void BM_Attention_SeqtrainCpuBatch2(benchmark::State& state) {
  auto backend = make_cpu_backend(omp_get_max_threads());
  run_attention(state, *backend, 2);
}

// The CUDA backend through its plug-in; skipped, saying why, where it is
// unavailable or there is no GPU (scripts/gpu_check.sh runs it on one).
void BM_Attention_SeqtrainCuda(benchmark::State& state) {
  if (std::unique_ptr<Backend> backend = cuda_backend_or_skip(state))
    run_attention(state, *backend, 16);
}

// The same under training.precision bf16: f32 activations, products on tensor
// cores (kernels/attention_tensor_core.cu, bf16 operands, fp32 accumulation).
void BM_Attention_SeqtrainCudaBf16(benchmark::State& state) {
  if (std::unique_ptr<Backend> backend = cuda_backend_or_skip(state)) {
    backend->set_gemm_precision(Precision::bf16);
    run_attention(state, *backend, 16);
  }
}

void BM_Attention_SeqtrainSerialBatch2(benchmark::State& state) {
  auto backend = make_serial_backend();
  run_attention(state, *backend, 2);
}

}  // namespace
}  // namespace seqtrain

BENCHMARK(seqtrain::BM_Attention_SeqtrainCpu)
    ->ArgNames({"T", "padded", "dropout_pct"})
    ->Args({128, 1, 0})
    ->Args({512, 1, 0})
    ->Args({128, 0, 0})
    ->Args({512, 0, 0})
    ->Args({128, 1, 10})
    ->Args({512, 1, 10})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2.0);
BENCHMARK(seqtrain::BM_AttentionCausal_SeqtrainCpu)
    ->ArgNames({"T", "padded", "dropout_pct"})
    ->Args({128, 0, 0})
    ->Args({512, 0, 0})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2.0);
// Each pass alone, without padding or dropout: where the time of the rows
// above goes (GFLOP/s counts 4 T L d for forward, 10 T L d for backward).
static void pass_cases(benchmark::internal::Benchmark* benchmark) {
  benchmark->ArgNames({"T", "padded", "dropout_pct"})
      ->Args({128, 0, 0})
      ->Args({512, 0, 0})
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime()
      ->MinTime(1.0);
}
BENCHMARK(seqtrain::BM_AttentionForward_SeqtrainCpu)->Apply(pass_cases);
BENCHMARK(seqtrain::BM_AttentionBackward_SeqtrainCpu)->Apply(pass_cases);
BENCHMARK(seqtrain::BM_Attention_SeqtrainCpuBatch2)
    ->ArgNames({"T", "padded", "dropout_pct"})
    ->Args({128, 1, 0})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(1.0);
BENCHMARK(seqtrain::BM_Attention_SeqtrainCuda)
    ->ArgNames({"T", "padded", "dropout_pct"})
    ->Args({128, 0, 0})
    ->Args({512, 0, 0})
    ->Args({2048, 0, 0})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(1.0);
BENCHMARK(seqtrain::BM_Attention_SeqtrainCudaBf16)
    ->ArgNames({"T", "padded", "dropout_pct"})
    ->Args({128, 0, 0})
    ->Args({512, 0, 0})
    ->Args({2048, 0, 0})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(1.0);
BENCHMARK(seqtrain::BM_Attention_SeqtrainSerialBatch2)
    ->ArgNames({"T", "padded", "dropout_pct"})
    ->Args({128, 1, 0})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(1);
BENCHMARK_MAIN();
