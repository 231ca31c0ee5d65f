// One bert_mini masked-LM training step, fp32, on the cpu backend: 4 layers,
// hidden 256, 4 heads, intermediate 1024, batch 32, T 128, dropout 0.1 (training
// mode). scripts/bench_pytorch_bert.py times Hugging Face's BertForMaskedLM on
// the same batch layout, threads and optimizer.
//
// The step is what the trainer does (src/train/trainer.cc): zero the gradients,
// forward + backward through the Executor, clip by global norm 1.0, AdamW
// (lr 1e-4, betas 0.9/0.999, eps 1e-6, weight decay 0.01 off biases and
// LayerNorm). The batch has the MlmBatch layout: key lengths fall evenly from T
// to T/2 + 2 over the batch (b -> T - b T / (2 B)), [CLS] tokens [SEP] [PAD]...,
// 15% of each row's tokens masked by mlm_mask_tokens into P = 19 decoder slots
// per row (unused slots: label -100). The decoder runs on the B * P slots only.
//
// Arguments: vocab (8000: configs/bert_mini.yaml's tokenizer; 30522: BERT's
// WordPiece vocabulary).
// Time is wall time per step; the CPU column is the whole process's CPU time
// per step (all threads), which a loaded machine inflates less.
// Counters: tokens_per_s (B * T per step, padding included, as the PyTorch
// script counts), arena_MiB (the executor's planned activation arena),
// baseline_rss_MiB (the process's resident set before the model was built),
// peak_rss_MiB (getrusage ru_maxrss: the whole process, so run one benchmark per
// process when reading it) and their difference.
// BM_BertStep_Profile runs the same step through a timing Backend decorator and
// prints where the time goes: forward, backward, clip, AdamW, and per op and
// shape.
//
// Run (one benchmark per process, for the peak resident set):
//   OMP_WAIT_POLICY=passive OMP_NUM_THREADS=1 build/release/bench/bert_step_bench
//     --benchmark_filter='SeqtrainCpu/vocab:8000$'
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <omp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <vector>

#include "bench_backends.h"
#include "data/mlm_batch.h"
#include "data/mlm_masking.h"
#include "data/sentencepiece_tokenizer.h"
#include "data/sequence_batch.h"
#include "models/bert.h"
#include "seqtrain/backend.h"
#include "seqtrain/executor.h"
#include "seqtrain/rng.h"
#include "train/grad_clip.h"
#include "train/optimizer.h"
#include "tasks/mlm_runner.h"

namespace seqtrain {
namespace {

constexpr int kBatch = 32, kLength = 128;
constexpr double kMaskRate = 0.15;
constexpr std::uint64_t kSeed = 1234;
constexpr float kLearningRate = 1e-4f;
constexpr double kClipNorm = 1.0;
constexpr int kWarmupSteps = 2;

BertSpec bert_mini(int vocabulary_size) {
  BertSpec spec;
  spec.vocabulary_size = vocabulary_size;
  spec.hidden_size = 256;
  spec.layers = 4;
  spec.heads = 4;
  spec.intermediate_size = 1024;
  spec.max_positions = 512;
  spec.hidden_dropout = 0.1f;
  spec.attention_dropout = 0.1f;
  return spec;
}

// BERT-base's shape (12 layers, hidden 768, 12 heads), for the GPU rows.
BertSpec bert_base(int vocabulary_size) {
  BertSpec spec = bert_mini(vocabulary_size);
  spec.hidden_size = 768;
  spec.layers = 12;
  spec.heads = 12;
  spec.intermediate_size = 3072;
  return spec;
}

double mebibytes(double bytes) { return bytes / 1048576.0; }

double current_rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

double peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) * 1024.0;  // KiB on Linux
}

// The first call's resident set: libraries loaded, nothing built yet. Later
// calls (Google Benchmark re-enters a benchmark) would see freed heap.
double baseline_rss_bytes() {
  static const double baseline = current_rss_bytes();
  return baseline;
}

std::vector<std::int32_t> key_lengths() {
  std::vector<std::int32_t> lengths(kBatch);
  for (int b = 0; b < kBatch; ++b) lengths[b] = kLength - b * kLength / (2 * kBatch);
  return lengths;
}

// A random batch in the MlmBatch layout, masked by the data pipeline's own
// mlm_mask_tokens.
MlmBatch random_mlm_batch(int vocabulary_size) {
  const std::int64_t capacity = mlm_masked_per_sequence(kLength, kMaskRate);
  const std::vector<std::int32_t> lengths = key_lengths();
  std::vector<std::int32_t> ids(kBatch * kLength, kPadTokenId);
  std::vector<std::int32_t> positions(kBatch * capacity), labels(kBatch * capacity, kIgnoreTarget);
  Rng tokens(kSeed, 1), masking(kSeed, 2);
  const MlmMaskingOptions options;
  std::int64_t masked_count = 0;
  for (int b = 0; b < kBatch; ++b) {
    std::int32_t* row = ids.data() + b * kLength;
    const int length = lengths[b];
    row[0] = kClsTokenId;
    for (int t = 1; t < length - 1; ++t)
      row[t] = kFirstRegularTokenId +
               static_cast<std::int32_t>(tokens.next_below(vocabulary_size - kFirstRegularTokenId));
    row[length - 1] = kSepTokenId;
    MlmMaskedTokens masked = mlm_mask_tokens(std::span<std::int32_t>(row, length),
                                             vocabulary_size, capacity, options, masking);
    for (std::int64_t slot = 0; slot < capacity; ++slot) {
      const auto index = static_cast<std::size_t>(b * capacity + slot);
      const bool used = slot < static_cast<std::int64_t>(masked.positions.size());
      positions[index] = b * kLength + (used ? masked.positions[slot] : 0);
      if (used) labels[index] = masked.labels[slot];
    }
    masked_count += static_cast<std::int64_t>(masked.positions.size());
  }
  MlmBatch batch;
  batch.input_ids = Tensor::from_vector(ids, {kBatch, kLength});
  batch.token_type_ids =
      Tensor::from_vector(std::vector<std::int32_t>(kBatch * kLength, 0), {kBatch, kLength});
  batch.lengths = Tensor::from_vector(lengths, {kBatch});
  batch.masked_positions = Tensor::from_vector(positions, {kBatch * capacity});
  batch.masked_labels = Tensor::from_vector(labels, {kBatch * capacity});
  batch.masked_count = masked_count;
  return batch;
}

// The model, its step graph and optimizer on one backend.
struct BertTrainingStep {
  BertTrainingStep(Backend& backend, int vocabulary_size, bool base = false)
      : parameters(backend),
        model(base ? bert_base(vocabulary_size) : bert_mini(vocabulary_size), parameters, kSeed),
        batch(random_mlm_batch(vocabulary_size)),
        executor(model.build_graph(mlm_graph_shape(kBatch, kLength,
                                   static_cast<int>(batch.masked_per_sequence())))
                     .graph,
                 backend, parameters, true),
        optimizer(parameters, AdamWOptimizerOptions{0.9f, 0.999f, 1e-6f, 0.01f}) {
    model.bind_inputs(executor, mlm_inputs(batch));
  }

  RunContext context(std::uint64_t step) const { return RunContext{kSeed, step, true}; }

  void run(std::uint64_t step) {
    parameters.zero_grads();
    executor.forward_backward(context(step));
    const GradientNorm norm = clip_gradients_by_global_norm(parameters, kClipNorm);
    SEQTRAIN_CHECK(norm.finite, "bert step {}: gradient norm is not finite", step);
    optimizer.step(kLearningRate);
    parameters.backend().synchronize();  // a GPU's queued work is part of the step
  }

  ParameterStore parameters;
  BertModel model;
  MlmBatch batch;
  Executor executor;
  AdamWOptimizer optimizer;
};

void set_memory_counters(benchmark::State& state, const BertTrainingStep& step, double baseline) {
  const double peak = peak_rss_bytes();
  double parameter_bytes = 0.0;
  for (const auto& parameter : step.parameters.all())
    parameter_bytes += 4.0 * static_cast<double>(parameter->value.numel());
  state.counters["arena_MiB"] = mebibytes(static_cast<double>(step.executor.memory_plan().arena_bytes));
  // value, grad, AdamW m and v
  state.counters["params_state_MiB"] = mebibytes(4.0 * parameter_bytes);
  state.counters["baseline_rss_MiB"] = mebibytes(baseline);
  state.counters["peak_rss_MiB"] = mebibytes(peak);
  state.counters["peak_minus_baseline_MiB"] = mebibytes(peak - baseline);
}

// Times steps of the model (bert_base's shape when base) on the backend after
// the warm-up steps, with the tokens/s counter.
std::unique_ptr<BertTrainingStep> time_steps(benchmark::State& state, Backend& backend,
                                             bool base = false) {
  auto step = std::make_unique<BertTrainingStep>(backend, static_cast<int>(state.range(0)), base);
  std::uint64_t index = 0;
  for (; index < kWarmupSteps; ++index) step->run(index);
  for (auto _ : state) step->run(index++);
  state.counters["tokens_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * kBatch * kLength,
                         benchmark::Counter::kIsRate);
  state.counters["masked"] = static_cast<double>(step->batch.masked_count);
  return step;
}

void BM_BertStep_SeqtrainCpu(benchmark::State& state) {
  const double baseline = baseline_rss_bytes();
  auto backend = make_cpu_backend(omp_get_max_threads());
  const std::unique_ptr<BertTrainingStep> step = time_steps(state, *backend);
  state.counters["threads"] = omp_get_max_threads();
  set_memory_counters(state, *step, baseline);
}

// The same step with training.precision bf16 (oneDNN's bf16 GEMMs), where the
// CPU has avx512_bf16 or AMX; skipped, saying why, elsewhere.
void BM_BertStep_SeqtrainCpuBf16(benchmark::State& state) {
  auto backend = make_cpu_backend(omp_get_max_threads());
  try {
    backend->set_gemm_precision(Precision::bf16);
  } catch (const Error& error) {
    state.SkipWithError(error.what());
    return;
  }
  time_steps(state, *backend);
  state.counters["threads"] = omp_get_max_threads();
}

// The same step on the CUDA backend (through its plug-in): bert_mini, or
// bert_base with base:1. Skipped, saying why, where CUDA is unavailable
// (scripts/gpu_check.sh runs it on a GPU).
void BM_BertStep_SeqtrainCuda(benchmark::State& state) {
  std::unique_ptr<Backend> backend = cuda_backend_or_skip(state);
  if (!backend) return;
  time_steps(state, *backend, state.range(1) != 0);
}

// Forwards every call to another backend and adds its wall time to a table
// keyed by the call (and, for GEMMs, the operand shapes).
class TimingBackend final : public Backend {
 public:
  explicit TimingBackend(Backend& inner) : inner_(&inner) {}

  std::map<std::string, std::pair<double, std::int64_t>> seconds_by_call;  // seconds, calls
  bool enabled = false;

  std::string name() const override { return inner_->name(); }
  Device device() const override { return inner_->device(); }
  Tensor allocate(const Shape& shape, DType dtype) override {
    return inner_->allocate(shape, dtype);
  }
  void copy_from_host(const Tensor& host, Tensor& target) override {
    timed("copy_from_host", [&] { inner_->copy_from_host(host, target); });
  }
  void copy_to_host(const Tensor& source, Tensor& host) override {
    timed("copy_to_host", [&] { inner_->copy_to_host(source, host); });
  }
  void fill_zero(Tensor& x) override {
    timed("fill_zero", [&] { inner_->fill_zero(x); });
  }
  void synchronize() override { inner_->synchronize(); }
  void matmul(const Tensor& a, const Tensor& b, Tensor& c, bool transpose_a, bool transpose_b,
              float alpha, float beta) override {
    const std::string key =
        fmt::format("matmul {}{} x {}{} -> {}{}", shape_string(a.shape()), transpose_a ? "^T" : "",
                    shape_string(b.shape()), transpose_b ? "^T" : "", shape_string(c.shape()),
                    beta != 0.0f ? " (+=)" : "");
    timed(key, [&] { inner_->matmul(a, b, c, transpose_a, transpose_b, alpha, beta); });
  }
  void bias_add(const Tensor& x, const Tensor& bias, Tensor& out) override {
    timed("bias_add", [&] { inner_->bias_add(x, bias, out); });
  }
  void bias_grad(const Tensor& dy, Tensor& bias_grad) override {
    timed("bias_grad", [&] { inner_->bias_grad(dy, bias_grad); });
  }
  void add(const Tensor& a, const Tensor& b, Tensor& out) override {
    timed("add", [&] { inner_->add(a, b, out); });
  }
  void mul(const Tensor& a, const Tensor& b, Tensor& out) override {
    timed("mul", [&] { inner_->mul(a, b, out); });
  }
  void scale(const Tensor& x, float factor, Tensor& out) override {
    timed("scale", [&] { inner_->scale(x, factor, out); });
  }
  void accumulate(const Tensor& x, Tensor& target) override {
    timed("accumulate", [&] { inner_->accumulate(x, target); });
  }
  void activation_forward(Activation activation, const Tensor& x, Tensor& y) override {
    timed("activation_forward", [&] { inner_->activation_forward(activation, x, y); });
  }
  void activation_backward(Activation activation, const Tensor& x, const Tensor& y,
                           const Tensor& dy, Tensor& dx) override {
    timed("activation_backward", [&] { inner_->activation_backward(activation, x, y, dy, dx); });
  }
  void softmax_forward(const Tensor& x, Tensor& y) override {
    timed("softmax_forward", [&] { inner_->softmax_forward(x, y); });
  }
  void softmax_backward(const Tensor& y, const Tensor& dy, Tensor& dx) override {
    timed("softmax_backward", [&] { inner_->softmax_backward(y, dy, dx); });
  }
  void cross_entropy_forward(const Tensor& logits, const Tensor& targets,
                             std::int64_t ignore_index, Tensor& loss,
                             Tensor& log_sum_exp) override {
    timed("cross_entropy_forward", [&] {
      inner_->cross_entropy_forward(logits, targets, ignore_index, loss, log_sum_exp);
    });
  }
  void cross_entropy_backward(const Tensor& logits, const Tensor& targets,
                              const Tensor& log_sum_exp, const Tensor& dloss,
                              std::int64_t ignore_index, Tensor& dlogits) override {
    timed("cross_entropy_backward", [&] {
      inner_->cross_entropy_backward(logits, targets, log_sum_exp, dloss, ignore_index, dlogits);
    });
  }
  void mse_forward(const Tensor& prediction, const Tensor& target, Tensor& loss) override {
    timed("mse_forward", [&] { inner_->mse_forward(prediction, target, loss); });
  }
  void mse_backward(const Tensor& prediction, const Tensor& target, const Tensor& dloss,
                    Tensor& dprediction) override {
    timed("mse_backward",
          [&] { inner_->mse_backward(prediction, target, dloss, dprediction); });
  }
  void layernorm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, float epsilon,
                         Tensor& y, Tensor& mean, Tensor& rstd) override {
    timed("layernorm_forward",
          [&] { inner_->layernorm_forward(x, gamma, beta, epsilon, y, mean, rstd); });
  }
  void layernorm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean,
                          const Tensor& rstd, const Tensor& dy, Tensor& dx, Tensor& dgamma,
                          Tensor& dbeta) override {
    timed("layernorm_backward",
          [&] { inner_->layernorm_backward(x, gamma, mean, rstd, dy, dx, dgamma, dbeta); });
  }
  void dropout_forward(const Tensor& x, float probability, std::uint64_t seed,
                       std::uint64_t stream, std::uint64_t step, std::uint64_t first_index,
                       Tensor& y, Tensor& mask) override {
    timed("dropout_forward", [&] {
      inner_->dropout_forward(x, probability, seed, stream, step, first_index, y, mask);
    });
  }
  void embedding_forward(const Tensor& table, const Tensor& ids, Tensor& out) override {
    timed(fmt::format("embedding_forward {}", shape_string(table.shape())),
          [&] { inner_->embedding_forward(table, ids, out); });
  }
  void embedding_backward(const Tensor& ids, const Tensor& dout, Tensor& dtable) override {
    timed(fmt::format("embedding_backward {}", shape_string(dtable.shape())),
          [&] { inner_->embedding_backward(ids, dout, dtable); });
  }
  void transpose01(const Tensor& x, Tensor& out) override {
    timed("transpose01", [&] { inner_->transpose01(x, out); });
  }
  void concat_last(const Tensor& a, const Tensor& b, Tensor& out) override {
    timed("concat_last", [&] { inner_->concat_last(a, b, out); });
  }
  void split_last(const Tensor& x, Tensor& a, Tensor& b) override {
    timed("split_last", [&] { inner_->split_last(x, a, b); });
  }
  void sequence_last(const Tensor& x, const Tensor& lengths, bool reverse, Tensor& out) override {
    timed("sequence_last", [&] { inner_->sequence_last(x, lengths, reverse, out); });
  }
  void sequence_last_backward(const Tensor& dout, const Tensor& lengths, bool reverse,
                              Tensor& dx) override {
    timed("sequence_last_backward",
          [&] { inner_->sequence_last_backward(dout, lengths, reverse, dx); });
  }
  void rnn_forward(const RnnForwardArgs& args) override {
    timed("rnn_forward", [&] { inner_->rnn_forward(args); });
  }
  void rnn_backward(const RnnBackwardArgs& args) override {
    timed("rnn_backward", [&] { inner_->rnn_backward(args); });
  }
  void attention_forward(const Tensor& qkv, const Tensor& key_lengths, bool causal,
                         const AttentionDropout& dropout, Tensor& context,
                         Tensor& log_sum_exp) override {
    timed("attention_forward", [&] {
      inner_->attention_forward(qkv, key_lengths, causal, dropout, context, log_sum_exp);
    });
  }
  void attention_backward(const Tensor& qkv, const Tensor& key_lengths, bool causal,
                          const Tensor& context, const Tensor& log_sum_exp,
                          const Tensor& dcontext, const AttentionDropout& dropout,
                          Tensor& dqkv) override {
    timed("attention_backward", [&] {
      inner_->attention_backward(qkv, key_lengths, causal, context, log_sum_exp, dcontext, dropout,
                                 dqkv);
    });
  }
  double sum_of_squares(const Tensor& x) override {
    double result = 0.0;
    timed("sum_of_squares", [&] { result = inner_->sum_of_squares(x); });
    return result;
  }
  void adamw_update(Tensor& parameter, const Tensor& grad, Tensor& m, Tensor& v,
                    const AdamWOptions& options) override {
    timed("adamw_update", [&] { inner_->adamw_update(parameter, grad, m, v, options); });
  }
  void sgd_update(Tensor& parameter, const Tensor& grad, Tensor& velocity, float learning_rate,
                  float momentum, float weight_decay) override {
    timed("sgd_update", [&] {
      inner_->sgd_update(parameter, grad, velocity, learning_rate, momentum, weight_decay);
    });
  }

 private:
  template <typename Call>
  void timed(const std::string& key, Call&& call) {
    if (!enabled) {
      call();
      return;
    }
    const auto start = std::chrono::steady_clock::now();
    call();
    auto& entry = seconds_by_call[key];
    entry.first += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ++entry.second;
  }

  Backend* inner_;
};

void BM_BertStep_Profile(benchmark::State& state) {
  auto cpu = make_cpu_backend(omp_get_max_threads());
  TimingBackend backend(*cpu);
  BertTrainingStep step(backend, static_cast<int>(state.range(0)));
  std::uint64_t index = 0;
  for (; index < kWarmupSteps; ++index) step.run(index);
  using Clock = std::chrono::steady_clock;
  auto seconds = [](Clock::time_point from, Clock::time_point to) {
    return std::chrono::duration<double>(to - from).count();
  };
  double forward = 0.0, forward_backward = 0.0, clip = 0.0, adamw = 0.0;
  for (auto _ : state) {
    // Forward alone first (its time is subtracted from forward + backward),
    // then the step with the per-call table on.
    const auto t0 = Clock::now();
    step.executor.forward(step.context(index));
    const auto t1 = Clock::now();
    backend.enabled = true;
    step.parameters.zero_grads();
    const auto t2 = Clock::now();
    step.executor.forward_backward(step.context(index));
    const auto t3 = Clock::now();
    clip_gradients_by_global_norm(step.parameters, kClipNorm);
    const auto t4 = Clock::now();
    step.optimizer.step(kLearningRate);
    const auto t5 = Clock::now();
    backend.enabled = false;
    forward += seconds(t0, t1);
    forward_backward += seconds(t2, t3);
    clip += seconds(t3, t4);
    adamw += seconds(t4, t5);
    ++index;
  }
  const double steps = static_cast<double>(state.iterations());
  state.counters["forward_ms"] = 1e3 * forward / steps;
  state.counters["backward_ms"] = 1e3 * (forward_backward - forward) / steps;
  state.counters["clip_ms"] = 1e3 * clip / steps;
  state.counters["adamw_ms"] = 1e3 * adamw / steps;
  state.counters["threads"] = omp_get_max_threads();

  std::vector<std::pair<std::string, std::pair<double, std::int64_t>>> rows(
      backend.seconds_by_call.begin(), backend.seconds_by_call.end());
  std::sort(rows.begin(), rows.end(),
            [](const auto& a, const auto& b) { return a.second.first > b.second.first; });
  double total = 0.0;
  for (const auto& row : rows) total += row.second.first;
  std::printf("\nbackend calls of one step (vocab %lld, %d threads), by time:\n",
              static_cast<long long>(state.range(0)), omp_get_max_threads());
  std::printf("%9s %6s %6s  %s\n", "ms/step", "share", "calls", "call");
  for (const auto& [key, entry] : rows)
    std::printf("%9.2f %5.1f%% %6lld  %s\n", 1e3 * entry.first / steps,
                100.0 * entry.first / total,
                static_cast<long long>(static_cast<double>(entry.second) / steps), key.c_str());
  std::printf("%9.2f total of the timed calls\n", 1e3 * total / steps);
}

}  // namespace
}  // namespace seqtrain

BENCHMARK(seqtrain::BM_BertStep_SeqtrainCpu)
    ->ArgName("vocab")
    ->Arg(8000)
    ->Arg(30522)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MeasureProcessCPUTime()
    ->Iterations(5);
BENCHMARK(seqtrain::BM_BertStep_SeqtrainCpuBf16)
    ->ArgName("vocab")
    ->Arg(8000)
    ->Arg(30522)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MeasureProcessCPUTime()
    ->Iterations(5);
BENCHMARK(seqtrain::BM_BertStep_SeqtrainCuda)
    ->ArgNames({"vocab", "base"})
    ->Args({30522, 0})
    ->Args({30522, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(10);
BENCHMARK(seqtrain::BM_BertStep_Profile)
    ->ArgName("vocab")
    ->Arg(8000)
    ->Arg(30522)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);
BENCHMARK_MAIN();
