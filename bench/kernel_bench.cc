// Every Backend op on one representative shape each, on every backend built:
// serial, cpu (OMP_NUM_THREADS threads) and cuda (through the plug-in; a row
// says why it is skipped where there is no GPU). One row per op x backend:
//   GB_per_s       compulsory bytes / time: each distinct element read or
//                  written once, counted in fp32 as docs/kernels.md counts them
//   GFLOP_per_s    the op's FLOPs / time (an FMA is 2, a transcendental 1)
//   roofline_us    docs/kernels.md's roofline time for this size on an H100 SXM
//                  (max(bytes / 3350 GB/s, FLOPs / 67 TFLOP/s fp32))
//   of_roofline    cuda rows: roofline_us / measured time (1 = at the
//                  roofline); absent on the CPU backends
// Time: the cpu and serial rows time each call; the cuda rows time 20 calls
// queued back to back and then a synchronize, per call (the host's wall
// clock around a full queue, which for kernels longer than a launch is the
// device's time; not CUDA events, which the plug-in does not expose).
//
// Run: OMP_NUM_THREADS=2 build/release/bench/kernel_bench [--benchmark_filter=cpu]
#include <benchmark/benchmark.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bench_backends.h"
#include "seqtrain/backend.h"
#include "seqtrain/parameters.h"
#include "seqtrain/rng.h"

namespace seqtrain {
namespace {

constexpr double kH100Bandwidth = 3350e9;  // bytes/s, docs/kernels.md "The machines"
constexpr double kH100Fp32Peak = 67e12;    // FLOP/s, FMA counted as 2
constexpr double kFloat = 4.0;             // bytes per fp32 element

// Tensors of one case on one backend, kept alive while it runs.
class CaseTensors {
 public:
  explicit CaseTensors(Backend& backend) : backend_(backend) {}

  Tensor& uniform(const Shape& shape, float bound = 1.0f) {
    Rng rng(17, ++stream_);
    return upload(uniform_tensor(shape, bound, rng));
  }
  Tensor& positive(const Shape& shape) {  // in [0.5, 1.5): a variance, a probability
    Rng rng(17, ++stream_);
    Tensor host = uniform_tensor(shape, 0.5f, rng);
    for (float& value : host.span<float>()) value += 1.0f;
    return upload(std::move(host));
  }
  Tensor& integers(const Shape& shape, std::int32_t low, std::int32_t high) {
    Rng rng(17, ++stream_);
    Tensor host = Tensor::empty(shape, DType::i32);
    for (std::int32_t& value : host.span<std::int32_t>())
      value = low + static_cast<std::int32_t>(rng.next_below(static_cast<std::uint64_t>(high - low)));
    return upload(std::move(host));
  }
  Tensor& filled(const Shape& shape, std::int32_t value) {
    Tensor host = Tensor::empty(shape, DType::i32);
    std::fill(host.span<std::int32_t>().begin(), host.span<std::int32_t>().end(), value);
    return upload(std::move(host));
  }
  Tensor& zeros(const Shape& shape, DType dtype = DType::f32) {
    tensors_.push_back(std::make_unique<Tensor>(backend_.allocate(shape, dtype)));
    backend_.fill_zero(*tensors_.back());
    return *tensors_.back();
  }

 private:
  Tensor& upload(Tensor host) {
    tensors_.push_back(std::make_unique<Tensor>(backend_.allocate(host.shape(), host.dtype())));
    backend_.copy_from_host(host, *tensors_.back());
    return *tensors_.back();
  }

  Backend& backend_;
  std::uint64_t stream_ = 0;
  std::vector<std::unique_ptr<Tensor>> tensors_;
};

struct KernelCase {
  std::string op;
  std::string size;
  double bytes;  // compulsory traffic in fp32
  double flops;
  // Allocates the op's tensors and returns one call of the op (work a
  // backward needs from its forward is done here, once).
  std::function<std::function<void()>(Backend&, CaseTensors&)> prepare;
};

std::vector<KernelCase> kernel_cases() {
  std::vector<KernelCase> cases;
  auto add = [&](KernelCase c) { cases.push_back(std::move(c)); };

  {  // A BERT projection at B x T = 1024 tokens: [1024, 768] x [768, 768]^T.
    const double m = 1024, k = 768, n = 768;
    add({"matmul", "1024x768 . (768x768)^T", kFloat * (m * k + k * n + m * n), 2 * m * k * n,
         [](Backend& b, CaseTensors& t) {
           Tensor &a = t.uniform({1024, 768}), &w = t.uniform({768, 768}), &c = t.zeros({1024, 768});
           return [&b, &a, &w, &c] { b.matmul(a, w, c, false, true, 1.0f, 0.0f); };
         }});
  }
  constexpr std::int64_t kRows = 4096, kWidth = 768;  // BERT: 32 x 128 tokens, hidden 768
  const double n = static_cast<double>(kRows * kWidth);
  const std::string rows = "4096x768";
  add({"bias_add", rows, kFloat * (2 * n + kWidth), n, [](Backend& b, CaseTensors& t) {
         Tensor &x = t.uniform({kRows, kWidth}), &bias = t.uniform({kWidth}), &y = t.zeros({kRows, kWidth});
         return [&b, &x, &bias, &y] { b.bias_add(x, bias, y); };
       }});
  add({"bias_grad", rows, kFloat * (n + kWidth), n, [](Backend& b, CaseTensors& t) {
         Tensor &dy = t.uniform({kRows, kWidth}), &db = t.zeros({kWidth});
         return [&b, &dy, &db] { b.bias_grad(dy, db); };
       }});
  add({"add", rows, kFloat * 3 * n, n, [](Backend& b, CaseTensors& t) {
         Tensor &x = t.uniform({kRows, kWidth}), &y = t.uniform({kRows, kWidth}), &out = t.zeros({kRows, kWidth});
         return [&b, &x, &y, &out] { b.add(x, y, out); };
       }});
  add({"mul", rows, kFloat * 3 * n, n, [](Backend& b, CaseTensors& t) {
         Tensor &x = t.uniform({kRows, kWidth}), &y = t.uniform({kRows, kWidth}), &out = t.zeros({kRows, kWidth});
         return [&b, &x, &y, &out] { b.mul(x, y, out); };
       }});
  add({"scale", rows, kFloat * 2 * n, n, [](Backend& b, CaseTensors& t) {
         Tensor &x = t.uniform({kRows, kWidth}), &out = t.zeros({kRows, kWidth});
         return [&b, &x, &out] { b.scale(x, 0.5f, out); };
       }});
  add({"accumulate", rows, kFloat * 3 * n, n, [](Backend& b, CaseTensors& t) {
         Tensor &x = t.uniform({kRows, kWidth}), &target = t.zeros({kRows, kWidth});
         return [&b, &x, &target] { b.accumulate(x, target); };
       }});
  // Activations: gelu (BERT's feed-forward) and tanh (the recurrent cells),
  // FLOPs as docs/kernels.md counts them (gelu 10 forward, 16 backward).
  for (const auto& [activation, forward_flops, backward_flops] :
       {std::tuple{Activation::gelu, 10.0, 16.0}, std::tuple{Activation::tanh, 1.0, 3.0}}) {
    const std::string name = activation_name(activation);
    add({"activation_forward/" + name, rows, kFloat * 2 * n, forward_flops * n,
         [activation](Backend& b, CaseTensors& t) {
           Tensor &x = t.uniform({kRows, kWidth}), &y = t.zeros({kRows, kWidth});
           return [&b, &x, &y, activation] { b.activation_forward(activation, x, y); };
         }});
    add({"activation_backward/" + name, rows, kFloat * 4 * n, backward_flops * n,
         [activation](Backend& b, CaseTensors& t) {
           Tensor &x = t.uniform({kRows, kWidth}), &y = t.uniform({kRows, kWidth});
           Tensor &dy = t.uniform({kRows, kWidth}), &dx = t.zeros({kRows, kWidth});
           return [&b, &x, &y, &dy, &dx, activation] { b.activation_backward(activation, x, y, dy, dx); };
         }});
  }
  {  // Attention probabilities of 8 heads at T 512 for 8 sequences: 32768 rows x 512.
    const double s = 32768.0 * 512;
    add({"softmax_forward", "32768x512", kFloat * 2 * s, 4 * s, [](Backend& b, CaseTensors& t) {
           Tensor &x = t.uniform({32768, 512}), &y = t.zeros({32768, 512});
           return [&b, &x, &y] { b.softmax_forward(x, y); };
         }});
    add({"softmax_backward", "32768x512", kFloat * 3 * s, 4 * s, [](Backend& b, CaseTensors& t) {
           Tensor &y = t.positive({32768, 512}), &dy = t.uniform({32768, 512}), &dx = t.zeros({32768, 512});
           return [&b, &y, &dy, &dx] { b.softmax_backward(y, dy, dx); };
         }});
  }
  {  // The masked-LM decoder: 608 masked slots (32 x 19) over an 8000-piece vocabulary.
    constexpr std::int64_t kSlots = 608, kVocab = 8000;
    const double s = static_cast<double>(kSlots * kVocab);
    add({"cross_entropy_forward", "608x8000", kFloat * s, 4 * s, [](Backend& b, CaseTensors& t) {
           Tensor &logits = t.uniform({kSlots, kVocab}), &targets = t.integers({kSlots}, 0, kVocab);
           Tensor &loss = t.zeros({1}), &lse = t.zeros({kSlots});
           return [&b, &logits, &targets, &loss, &lse] {
             b.cross_entropy_forward(logits, targets, -100, loss, lse);
           };
         }});
    add({"cross_entropy_backward", "608x8000", kFloat * 2 * s, 3 * s,
         [](Backend& b, CaseTensors& t) {
           Tensor &logits = t.uniform({kSlots, kVocab}), &targets = t.integers({kSlots}, 0, kVocab);
           Tensor &loss = t.zeros({1}), &lse = t.zeros({kSlots}), &dloss = t.positive({1});
           Tensor& dlogits = t.zeros({kSlots, kVocab});
           b.cross_entropy_forward(logits, targets, -100, loss, lse);
           return [&b, &logits, &targets, &lse, &dloss, &dlogits] {
             b.cross_entropy_backward(logits, targets, lse, dloss, -100, dlogits);
           };
         }});
  }
  {  // The adding task's predictions, batched large: n = 262144.
    constexpr std::int64_t kCount = 262144;
    const double s = kCount;
    add({"mse_forward", "262144", kFloat * 2 * s, 3 * s, [](Backend& b, CaseTensors& t) {
           Tensor &p = t.uniform({kCount}), &target = t.uniform({kCount}), &loss = t.zeros({1});
           return [&b, &p, &target, &loss] { b.mse_forward(p, target, loss); };
         }});
    add({"mse_backward", "262144", kFloat * 3 * s, 3 * s, [](Backend& b, CaseTensors& t) {
           Tensor &p = t.uniform({kCount}), &target = t.uniform({kCount}), &dloss = t.positive({1});
           Tensor& dp = t.zeros({kCount});
           return [&b, &p, &target, &dloss, &dp] { b.mse_backward(p, target, dloss, dp); };
         }});
  }
  add({"layernorm_forward", rows, kFloat * (2 * n + 2 * kWidth + 2 * kRows), 8 * n,
       [](Backend& b, CaseTensors& t) {
         Tensor &x = t.uniform({kRows, kWidth}), &gamma = t.positive({kWidth}), &beta = t.uniform({kWidth});
         Tensor &y = t.zeros({kRows, kWidth}), &mean = t.zeros({kRows}), &rstd = t.zeros({kRows});
         return [&b, &x, &gamma, &beta, &y, &mean, &rstd] {
           b.layernorm_forward(x, gamma, beta, 1e-12f, y, mean, rstd);
         };
       }});
  add({"layernorm_backward", rows, kFloat * (3 * n + 3 * kWidth + 2 * kRows), 12 * n,
       [](Backend& b, CaseTensors& t) {
         Tensor &x = t.uniform({kRows, kWidth}), &gamma = t.positive({kWidth}), &beta = t.uniform({kWidth});
         Tensor &y = t.zeros({kRows, kWidth}), &mean = t.zeros({kRows}), &rstd = t.zeros({kRows});
         Tensor &dy = t.uniform({kRows, kWidth}), &dx = t.zeros({kRows, kWidth});
         Tensor &dgamma = t.zeros({kWidth}), &dbeta = t.zeros({kWidth});
         b.layernorm_forward(x, gamma, beta, 1e-12f, y, mean, rstd);
         return [&b, &x, &gamma, &mean, &rstd, &dy, &dx, &dgamma, &dbeta] {
           b.layernorm_backward(x, gamma, mean, rstd, dy, dx, dgamma, dbeta);
         };
       }});
  add({"dropout_forward", rows, kFloat * 3 * n, n, [](Backend& b, CaseTensors& t) {
         Tensor &x = t.uniform({kRows, kWidth}), &y = t.zeros({kRows, kWidth});
         Tensor& mask = t.zeros({kRows, kWidth});
         return [&b, &x, &y, &mask] { b.dropout_forward(x, 0.1f, 7, 3, 1, 0, y, mask); };
       }});
  {  // Token embeddings of 4096 tokens, width 768, vocabulary 8000.
    constexpr std::int64_t kVocab = 8000;
    add({"embedding_forward", "4096 ids, 8000x768", kFloat * (2 * n + kRows), 0,
         [](Backend& b, CaseTensors& t) {
           Tensor &table = t.uniform({kVocab, kWidth}), &ids = t.integers({kRows}, 0, kVocab);
           Tensor& out = t.zeros({kRows, kWidth});
           return [&b, &table, &ids, &out] { b.embedding_forward(table, ids, out); };
         }});
    add({"embedding_backward", "4096 ids, 8000x768",
         kFloat * (static_cast<double>(kVocab * kWidth) + 2 * n + kRows), n,
         [](Backend& b, CaseTensors& t) {
           Tensor &ids = t.integers({kRows}, 0, kVocab), &dout = t.uniform({kRows, kWidth});
           Tensor& dtable = t.zeros({kVocab, kWidth});
           return [&b, &ids, &dout, &dtable] { b.embedding_backward(ids, dout, dtable); };
         }});
  }
  add({"transpose01", "[128, 32, 768]", kFloat * 2 * n, 0, [](Backend& b, CaseTensors& t) {
         Tensor &x = t.uniform({128, 32, kWidth}), &out = t.zeros({32, 128, kWidth});
         return [&b, &x, &out] { b.transpose01(x, out); };
       }});
  add({"concat_last", "2 x 4096x384", kFloat * 2 * n, 0, [](Backend& b, CaseTensors& t) {
         Tensor &x = t.uniform({kRows, kWidth / 2}), &y = t.uniform({kRows, kWidth / 2});
         Tensor& out = t.zeros({kRows, kWidth});
         return [&b, &x, &y, &out] { b.concat_last(x, y, out); };
       }});
  add({"split_last", "4096x768 to 2", kFloat * 2 * n, 0, [](Backend& b, CaseTensors& t) {
         Tensor& x = t.uniform({kRows, kWidth});
         Tensor &first = t.zeros({kRows, kWidth / 2}), &second = t.zeros({kRows, kWidth / 2});
         return [&b, &x, &first, &second] { b.split_last(x, first, second); };
       }});
  {  // The last step of a classification LSTM's output: [T 128, B 32, H 512].
    constexpr std::int64_t kT = 128, kB = 32, kH = 512;
    add({"sequence_last", "[128, 32, 512]", kFloat * (2 * kB * kH + kB), 0,
         [](Backend& b, CaseTensors& t) {
           Tensor &x = t.uniform({kT, kB, kH}), &lengths = t.integers({kB}, 1, kT + 1);
           Tensor& out = t.zeros({kB, kH});
           return [&b, &x, &lengths, &out] { b.sequence_last(x, lengths, false, out); };
         }});
    add({"sequence_last_backward", "[128, 32, 512]", kFloat * (kT * kB * kH + kB * kH + kB), 0,
         [](Backend& b, CaseTensors& t) {
           Tensor &dout = t.uniform({kB, kH}), &lengths = t.integers({kB}, 1, kT + 1);
           Tensor& dx = t.zeros({kT, kB, kH});
           return [&b, &dout, &lengths, &dx] { b.sequence_last_backward(dout, lengths, false, dx); };
         }});
  }
  {  // One LSTM layer: B 32, T 64, input 256, hidden 256 (the input projection
     // GEMM, T recurrent GEMMs and T fused cell passes forward; backward the same
     // in reverse plus the weight-gradient GEMMs).
    constexpr std::int64_t kT = 64, kB = 32, kI = 256, kH = 256, kG = 4 * kH;
    const double tokens = kT * kB, weights = static_cast<double>(kG * (kI + kH));
    const double activations = tokens * (kI + kH + 5 * kH + kG);
    struct Layer {
      RnnForwardArgs forward;
      RnnBackwardArgs backward;
    };
    auto layer = [](CaseTensors& t) {
      const float bound = 1.0f / 16.0f;
      Tensor& x = t.uniform({kT, kB, kI});
      Tensor &w_ih = t.uniform({kG, kI}, bound), &w_hh = t.uniform({kG, kH}, bound);
      Tensor &b_ih = t.uniform({kG}, bound), &b_hh = t.uniform({kG}, bound);
      Tensor &h0 = t.zeros({kB, kH}), &c0 = t.zeros({kB, kH}), &lengths = t.filled({kB}, kT);
      Tensor &y = t.zeros({kT, kB, kH}), &h_n = t.zeros({kB, kH}), &c_n = t.zeros({kB, kH});
      Tensor &workspace = t.zeros({kT, kB, 5 * kH}), &projection = t.zeros({kT, kB, kG});
      Tensor &dy = t.uniform({kT, kB, kH}), &dh_n = t.zeros({kB, kH}), &dc_n = t.zeros({kB, kH});
      Tensor &dx = t.zeros({kT, kB, kI}), &dw_ih = t.zeros({kG, kI}), &dw_hh = t.zeros({kG, kH});
      Tensor &db_ih = t.zeros({kG}), &db_hh = t.zeros({kG}), &dh0 = t.zeros({kB, kH});
      Tensor &dc0 = t.zeros({kB, kH}), &gate_grads = t.zeros({kT, kB, kG});
      return std::make_shared<Layer>(Layer{
          {RnnCell::lstm, false, &x, &w_ih, &w_hh, &b_ih, &b_hh, &h0, &c0, &lengths, &y, &h_n,
           &c_n, &workspace, &projection, true},
          {RnnCell::lstm, false, &x, &w_ih, &w_hh, &h0, &c0, &lengths, &y, &workspace, &dy,
           &dh_n, &dc_n, &dx, &dw_ih, &dw_hh, &db_ih, &db_hh, &dh0, &dc0, &gate_grads}});
    };
    add({"rnn_forward/lstm", "B 32, T 64, I 256, H 256",
         kFloat * (weights + activations), 2 * tokens * weights,
         [layer](Backend& b, CaseTensors& t) {
           auto args = layer(t);
           return [&b, args] { b.rnn_forward(args->forward); };
         }});
    add({"rnn_backward/lstm", "B 32, T 64, I 256, H 256",
         kFloat * (3 * weights + 2 * activations), 4 * tokens * weights,
         [layer](Backend& b, CaseTensors& t) {
           auto args = layer(t);
           b.rnn_forward(args->forward);
           return [&b, args] { b.rnn_backward(args->backward); };
         }});
  }
  {  // Self-attention: B 4, 8 heads, T 256, head size 64, no padding, no dropout.
    constexpr std::int64_t kB = 4, kT = 256, kHeads = 8, kD = 64;
    const double pairs = static_cast<double>(kB * kHeads * kT * kT);
    const double qkv = static_cast<double>(kB * kT * 3 * kHeads * kD);
    const double context = qkv / 3;
    const double lse = static_cast<double>(kB * kHeads * kT);
    add({"attention_forward", "B 4, heads 8, T 256, d 64", kFloat * (qkv + context + lse),
         4 * pairs * kD, [](Backend& b, CaseTensors& t) {
           Tensor &qkv = t.uniform({kB, kT, 3, kHeads, kD}), &lengths = t.filled({kB}, kT);
           Tensor &context = t.zeros({kB, kT, kHeads * kD}), &lse = t.zeros({kB, kHeads, kT});
           return [&b, &qkv, &lengths, &context, &lse] {
             b.attention_forward(qkv, lengths, false, AttentionDropout{}, context, lse);
           };
         }});
    add({"attention_backward", "B 4, heads 8, T 256, d 64",
         kFloat * (2 * qkv + 2 * context + lse), 10 * pairs * kD, [](Backend& b, CaseTensors& t) {
           Tensor &qkv = t.uniform({kB, kT, 3, kHeads, kD}), &lengths = t.filled({kB}, kT);
           Tensor &context = t.zeros({kB, kT, kHeads * kD}), &lse = t.zeros({kB, kHeads, kT});
           Tensor &dcontext = t.uniform({kB, kT, kHeads * kD}), &dqkv = t.zeros({kB, kT, 3, kHeads, kD});
           b.attention_forward(qkv, lengths, false, AttentionDropout{}, context, lse);
           return [&b, &qkv, &lengths, &context, &lse, &dcontext, &dqkv] {
             b.attention_backward(qkv, lengths, false, context, lse, dcontext, AttentionDropout{},
                                  dqkv);
           };
         }});
  }
  {  // The optimizer over 10 M parameters (bert_small's order of size).
    constexpr std::int64_t kP = 10'000'000;
    const double p = kP;
    add({"sum_of_squares", "10M", kFloat * p, 2 * p, [](Backend& b, CaseTensors& t) {
           Tensor& x = t.uniform({kP});
           return [&b, &x] { benchmark::DoNotOptimize(b.sum_of_squares(x)); };
         }});
    add({"adamw_update", "10M", kFloat * 7 * p, 12 * p, [](Backend& b, CaseTensors& t) {
           Tensor &w = t.uniform({kP}), &g = t.uniform({kP}), &m = t.zeros({kP}), &v = t.zeros({kP});
           return [&b, &w, &g, &m, &v] {
             b.adamw_update(w, g, m, v, AdamWOptions{1e-4f, 0.9f, 0.999f, 1e-8f, 0.01f, 1});
           };
         }});
    add({"sgd_update", "10M", kFloat * 5 * p, 5 * p, [](Backend& b, CaseTensors& t) {
           Tensor &w = t.uniform({kP}), &g = t.uniform({kP}), &velocity = t.zeros({kP});
           return [&b, &w, &g, &velocity] { b.sgd_update(w, g, velocity, 1e-2f, 0.9f, 1e-4f); };
         }});
  }
  return cases;
}

std::unique_ptr<Backend> make_backend(benchmark::State& state, const std::string& name) {
  if (name == "serial") return make_serial_backend();
  if (name == "cpu") return make_cpu_backend(omp_get_max_threads());
  return cuda_backend_or_skip(state);
}

void run_case(benchmark::State& state, const KernelCase& c, const std::string& backend_name) {
  std::unique_ptr<Backend> backend = make_backend(state, backend_name);
  if (!backend) return;
  CaseTensors tensors(*backend);
  const std::function<void()> call = c.prepare(*backend, tensors);
  call();  // warm: first-touch pages, cuBLAS handles, plans
  backend->synchronize();
  const int queued = backend_name == "cuda" ? 20 : 1;
  double seconds = 0.0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < queued; ++i) call();
    backend->synchronize();
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / queued;
    state.SetIterationTime(elapsed);
    seconds += elapsed;
  }
  const double per_call = seconds / static_cast<double>(state.iterations());
  const double roofline = std::max(c.bytes / kH100Bandwidth, c.flops / kH100Fp32Peak);
  state.counters["GB_per_s"] = c.bytes / per_call / 1e9;
  state.counters["GFLOP_per_s"] = c.flops / per_call / 1e9;
  state.counters["roofline_us"] = roofline * 1e6;
  if (backend_name == "cuda") state.counters["of_roofline"] = roofline / per_call;
  state.counters["threads"] = backend_name == "cpu" ? omp_get_max_threads() : 1;
  state.SetLabel(c.size);
}

}  // namespace
}  // namespace seqtrain

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  static const std::vector<seqtrain::KernelCase> cases = seqtrain::kernel_cases();
  for (const char* backend : {"serial", "cpu", "cuda"})
    for (const seqtrain::KernelCase& c : cases)
      benchmark::RegisterBenchmark((c.op + "/" + backend).c_str(),
                                   [&c, backend](benchmark::State& state) {
                                     seqtrain::run_case(state, c, backend);
                                   })
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
