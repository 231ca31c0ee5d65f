// The attention op on shapes that span several tiles: the cpu backend against
// the serial oracle, both against a naive reference written here from full
// matrices (softmax(QK^T / sqrt d + mask) with the dropout mask drawn from its
// definition, and the textbook softmax backward), the cpu gradient against a
// directional finite difference of the cpu forward (so backward recomputes the
// forward's dropout mask), results that do not depend on the thread count, and
// fully padded key tails that stay finite; causal masking (query i sees keys
// j <= i) in all of these, against finite differences, and as the property
// that earlier outputs ignore later tokens. The cpu backend runs with scratch
// guard zones on: its per-thread slices stay inside the scratch it reserved.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <limits>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "backends/serial/serial_backend.h"
#include "test_support.h"

namespace seqtrain::testing {
namespace {

struct AttentionProblem {
  std::int64_t batch, steps, heads, head_dim;
  std::vector<std::int32_t> key_lengths;
  float dropout = 0.0f;
  bool causal = false;

  std::int64_t hidden() const { return heads * head_dim; }
  Shape qkv_shape() const { return {batch, steps, 3, heads, head_dim}; }
  Shape context_shape() const { return {batch, steps, hidden()}; }
  AttentionDropout dropout_args() const { return {dropout, 99, 4, 7}; }
};

struct AttentionResult {
  Tensor context, log_sum_exp, dqkv;
};

Tensor problem_qkv(const AttentionProblem& p) {
  return random_tensor(p.qkv_shape(), 41, 1.5f);
}
Tensor problem_dcontext(const AttentionProblem& p) {
  return random_tensor(p.context_shape(), 42, 1.0f);
}
Tensor problem_lengths(const AttentionProblem& p) {
  return Tensor::from_vector(p.key_lengths, {p.batch});
}

AttentionResult run_backend(Backend& backend, const AttentionProblem& p, const Tensor& qkv) {
  AttentionResult r{Tensor::empty(p.context_shape()), Tensor::empty({p.batch, p.heads, p.steps}),
                    Tensor::empty(p.qkv_shape())};
  const Tensor lengths = problem_lengths(p);
  backend.attention_forward(qkv, lengths, p.causal, p.dropout_args(), r.context, r.log_sum_exp);
  backend.attention_backward(qkv, lengths, p.causal, r.context, r.log_sum_exp, problem_dcontext(p),
                             p.dropout_args(), r.dqkv);
  return r;
}

// Full-matrix reference in double, per (b, h):
//   S = Q K^T / sqrt(d) + M (M = -inf at keys j >= L, and at j > i when causal),
//   P = softmax_rows(S),
//   Z_ij = 1 / (1 - p) if philox_uniform(seed, stream, step, ((b H + h) T + i) T + j) >= p else 0
//   O = (P * Z) V
//   dV = (P * Z)^T dO, dP = (dO V^T) * Z, dS = P * (dP - rowsum(P * dP)),
//   dQ = dS K / sqrt(d), dK = dS^T Q / sqrt(d)
AttentionResult naive_reference(const AttentionProblem& p, const Tensor& qkv_tensor) {
  const std::int64_t T = p.steps, d = p.head_dim, H = p.heads, hidden = p.hidden();
  AttentionResult r{Tensor::zeros(p.context_shape()), Tensor::zeros({p.batch, H, T}),
                    Tensor::zeros(p.qkv_shape())};
  const Tensor dcontext = problem_dcontext(p);
  const AttentionDropout dropout = p.dropout_args();
  const float* qkv = qkv_tensor.data<float>();
  auto at = [&](std::int64_t b, std::int64_t t, int part, std::int64_t h, std::int64_t c) {
    return static_cast<double>(qkv[(((b * T + t) * 3 + part) * H + h) * d + c]);
  };
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  for (std::int64_t b = 0; b < p.batch; ++b) {
    const std::int64_t length = p.key_lengths[static_cast<std::size_t>(b)];
    for (std::int64_t h = 0; h < H; ++h) {
      std::vector<double> P(static_cast<std::size_t>(T * T), 0.0), Z(P.size(), 1.0);
      for (std::int64_t i = 0; i < T; ++i) {
        std::vector<double> s(static_cast<std::size_t>(T));
        double max_s = -std::numeric_limits<double>::infinity();
        for (std::int64_t j = 0; j < T; ++j) {
          double dot = 0.0;
          for (std::int64_t c = 0; c < d; ++c) dot += at(b, i, 0, h, c) * at(b, j, 1, h, c);
          const bool visible = j < length && (!p.causal || j <= i);
          s[j] = visible ? dot * scale : -std::numeric_limits<double>::infinity();
          max_s = std::max(max_s, s[j]);
        }
        double total = 0.0;
        for (std::int64_t j = 0; j < length; ++j) total += std::exp(s[j] - max_s);
        for (std::int64_t j = 0; j < length; ++j) P[i * T + j] = std::exp(s[j] - max_s) / total;
        // (exp(-inf) = 0: the causally masked keys add nothing and get P = 0.)
        r.log_sum_exp.data<float>()[(b * H + h) * T + i] =
            length > 0 ? static_cast<float>(max_s + std::log(total))
                       : -std::numeric_limits<float>::infinity();
        for (std::int64_t j = 0; j < T && dropout.probability > 0.0f; ++j) {
          const std::uint64_t index = static_cast<std::uint64_t>(((b * H + h) * T + i) * T + j);
          Z[i * T + j] = philox_uniform(dropout.seed, dropout.stream, dropout.step, index) >=
                                 dropout.probability
                             ? 1.0 / (1.0 - dropout.probability)
                             : 0.0;
        }
      }
      auto dout = [&](std::int64_t i, std::int64_t c) {
        return static_cast<double>(dcontext.data<float>()[(b * T + i) * hidden + h * d + c]);
      };
      auto grad = [&](std::int64_t t, int part, std::int64_t c) -> float& {
        return r.dqkv.data<float>()[(((b * T + t) * 3 + part) * H + h) * d + c];
      };
      std::vector<double> dS(static_cast<std::size_t>(T * T), 0.0);
      for (std::int64_t i = 0; i < T; ++i) {
        for (std::int64_t c = 0; c < d; ++c) {
          double o = 0.0;
          for (std::int64_t j = 0; j < T; ++j) o += P[i * T + j] * Z[i * T + j] * at(b, j, 2, h, c);
          r.context.data<float>()[(b * T + i) * hidden + h * d + c] = static_cast<float>(o);
        }
        std::vector<double> dP(static_cast<std::size_t>(T));
        double row_dot = 0.0;
        for (std::int64_t j = 0; j < T; ++j) {
          double dot = 0.0;
          for (std::int64_t c = 0; c < d; ++c) dot += dout(i, c) * at(b, j, 2, h, c);
          dP[j] = dot * Z[i * T + j];
          row_dot += P[i * T + j] * dP[j];
        }
        for (std::int64_t j = 0; j < T; ++j) dS[i * T + j] = P[i * T + j] * (dP[j] - row_dot);
      }
      for (std::int64_t t = 0; t < T; ++t)
        for (std::int64_t c = 0; c < d; ++c) {
          double dq = 0.0, dk = 0.0, dv = 0.0;
          for (std::int64_t u = 0; u < T; ++u) {
            dq += dS[t * T + u] * at(b, u, 1, h, c);
            dk += dS[u * T + t] * at(b, u, 0, h, c);
            dv += P[u * T + t] * Z[u * T + t] * dout(u, c);
          }
          grad(t, 0, c) = static_cast<float>(dq * scale);
          grad(t, 1, c) = static_cast<float>(dk * scale);
          grad(t, 2, c) = static_cast<float>(dv);
        }
    }
  }
  return r;
}

// log_sum_exp is -inf exactly where a sequence has no keys; elsewhere close.
::testing::AssertionResult log_sum_exp_close(const Tensor& actual, const Tensor& expected,
                                             double atol, double rtol) {
  Tensor finite_actual = actual.clone(), finite_expected = expected.clone();
  for (std::int64_t i = 0; i < actual.numel(); ++i) {
    const bool empty_actual = std::isinf(actual.data<float>()[i]) && actual.data<float>()[i] < 0;
    const bool empty_expected =
        std::isinf(expected.data<float>()[i]) && expected.data<float>()[i] < 0;
    if (empty_actual != empty_expected)
      return ::testing::AssertionFailure() << "element " << i << ": " << actual.data<float>()[i]
                                           << " vs expected " << expected.data<float>()[i];
    if (empty_actual) finite_actual.data<float>()[i] = finite_expected.data<float>()[i] = 0.0f;
  }
  return tensors_close(finite_actual, finite_expected, atol, rtol);
}

void expect_results_close(const AttentionResult& actual, const AttentionResult& expected,
                          double atol, double rtol) {
  EXPECT_TRUE(tensors_close(actual.context, expected.context, atol, rtol)) << "context";
  EXPECT_TRUE(log_sum_exp_close(actual.log_sum_exp, expected.log_sum_exp, atol, rtol))
      << "log_sum_exp";
  EXPECT_TRUE(tensors_close(actual.dqkv, expected.dqkv, atol, rtol)) << "dqkv";
}

::testing::AssertionResult bitwise_equal(const Tensor& a, const Tensor& b) {
  if (a.bytes() == b.bytes() && std::memcmp(a.raw(), b.raw(), a.bytes()) == 0)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "contents differ";
}

// Several query and key tiles, tails that are not tile multiples, padding.
std::vector<AttentionProblem> larger_problems() {
  return {{2, 67, 4, 32, {67, 40}, 0.0f},
          {2, 130, 4, 64, {130, 71}, 0.0f},
          {2, 67, 4, 32, {50, 67}, 0.1f},
          {2, 130, 4, 64, {97, 130}, 0.1f},
          // More keys than the forward's 512-key tile: its online rescaling.
          {2, 530, 1, 32, {530, 515}, 0.1f},
          // Causal: diagonal tiles of both passes, padding cutting across the
          // diagonal, and (T 530) forward key tiles a whole query tile skips.
          {2, 130, 4, 64, {130, 71}, 0.0f, true},
          {2, 67, 4, 32, {50, 67}, 0.1f, true},
          {2, 530, 1, 32, {530, 515}, 0.1f, true}};
}

std::string problem_name(const AttentionProblem& p) {
  return "T" + std::to_string(p.steps) + "_d" + std::to_string(p.head_dim) +
         (p.dropout > 0.0f ? "_dropout" : "") + (p.causal ? "_causal" : "");
}

TEST(Attention, CpuMatchesSerialOnLargerShapes) {
  SerialBackend serial;
  CpuBackend cpu(2, cpu::ScratchGuards::on);
  for (const AttentionProblem& p : larger_problems()) {
    SCOPED_TRACE(problem_name(p));
    const Tensor qkv = problem_qkv(p);
    expect_results_close(run_backend(cpu, p, qkv), run_backend(serial, p, qkv), 1e-4, 1e-4);
    cpu.check_scratch_guards();
  }
}

TEST(Attention, BackendsMatchNaiveReference) {
  SerialBackend serial;
  CpuBackend cpu(2, cpu::ScratchGuards::on);
  const std::vector<AttentionProblem> problems = {{2, 67, 4, 32, {67, 40}, 0.0f},
                                                  {2, 67, 4, 32, {50, 67}, 0.1f},
                                                  {3, 70, 2, 20, {70, 5, 0}, 0.2f},
                                                  {3, 70, 2, 20, {70, 5, 0}, 0.2f, true},
                                                  {1, 130, 2, 32, {130}, 0.0f, true}};
  for (const AttentionProblem& p : problems) {
    SCOPED_TRACE(problem_name(p));
    const Tensor qkv = problem_qkv(p);
    const AttentionResult expected = naive_reference(p, qkv);
    expect_results_close(run_backend(serial, p, qkv), expected, 1e-5, 1e-4);
    expect_results_close(run_backend(cpu, p, qkv), expected, 1e-4, 1e-4);
    cpu.check_scratch_guards();
  }
}

// The backend runs the kernels of the ISA variant it was made with
// (backends/cpu/cpu_isa.h): each variant this build and CPU have (AVX2, and
// AVX-512 where the CPU has it) against the serial oracle, so an AVX-512
// machine tests the AVX2 kernels too; the ones it lacks are named.
class ScopedCpuIsa {
 public:
  // isa "" unsets the variable.
  explicit ScopedCpuIsa(const char* isa) {
    if (const char* old = std::getenv("SEQTRAIN_CPU_ISA")) saved_ = old;
    if (*isa == '\0')
      ::unsetenv("SEQTRAIN_CPU_ISA");
    else
      ::setenv("SEQTRAIN_CPU_ISA", isa, 1);
  }
  ~ScopedCpuIsa() {
    if (saved_.empty())
      ::unsetenv("SEQTRAIN_CPU_ISA");
    else
      ::setenv("SEQTRAIN_CPU_ISA", saved_.c_str(), 1);
  }

 private:
  std::string saved_;
};

TEST(Attention, EveryIsaVariantMatchesSerial) {
  SerialBackend serial;
  const std::vector<cpu::CpuIsa> usable = cpu::usable_cpu_isas();
  std::string names;
  for (cpu::CpuIsa isa : usable) names += std::string(" ") + cpu::cpu_isa_name(isa);
  std::cout << "kernel variants on this machine:" << names << " (CPU: "
            << cpu::cpu_vector_features() << ")\n";
  std::vector<AttentionResult> by_variant;
  const AttentionProblem p = larger_problems()[3];
  const Tensor qkv = problem_qkv(p);
  for (cpu::CpuIsa isa : usable) {
    SCOPED_TRACE(cpu::cpu_isa_name(isa));
    ScopedCpuIsa scoped(cpu::cpu_isa_name(isa));
    CpuBackend cpu(2, cpu::ScratchGuards::on);
    ASSERT_EQ(cpu.isa(), isa);
    EXPECT_EQ(cpu.attention_float_lanes(),
              isa == cpu::CpuIsa::avx512 ? 16 : isa == cpu::CpuIsa::avx2 ? 8 : 4);
    for (const AttentionProblem& q : larger_problems()) {
      SCOPED_TRACE(problem_name(q));
      const Tensor q_qkv = problem_qkv(q);
      expect_results_close(run_backend(cpu, q, q_qkv), run_backend(serial, q, q_qkv), 1e-4, 1e-4);
      cpu.check_scratch_guards();
    }
    by_variant.push_back(run_backend(cpu, p, qkv));
  }
  // Without SEQTRAIN_CPU_ISA a backend takes the widest.
  {
    ScopedCpuIsa unset("");
    EXPECT_EQ(CpuBackend(1).isa(), usable.back());
  }
  // Variants sum in other orders (other vector widths), so they agree closely, not bit for bit.
  for (std::size_t v = 1; v < by_variant.size(); ++v)
    expect_results_close(by_variant[v], by_variant[0], 1e-5, 1e-4);
}

TEST(Attention, AnIsaVariantTheMachineLacksIsAConfigError) {
  ScopedCpuIsa scoped("avx1024");
  try {
    CpuBackend cpu(1);
    ADD_FAILURE() << "SEQTRAIN_CPU_ISA=avx1024 was accepted";
  } catch (const ConfigError& error) {
    EXPECT_NE(std::string(error.what()).find("SEQTRAIN_CPU_ISA=avx1024"), std::string::npos)
        << error.what();
    EXPECT_NE(std::string(error.what()).find(cpu::cpu_isa_name(cpu::usable_cpu_isas().front())),
              std::string::npos)
        << error.what();
  }
}

// sum_i a_i b_i in double: a gradient along a direction.
double dot(const Tensor& a, const Tensor& b) {
  double total = 0.0;
  for (std::int64_t i = 0; i < a.numel(); ++i)
    total += static_cast<double>(a.data<float>()[i]) * b.data<float>()[i];
  return total;
}

// d/dh of L(qkv + h direction) at h = 0 by central differences (h = 1e-2),
// L = sum(problem_dcontext * context) of the backend's forward.
double numeric_directional_derivative(Backend& backend, const AttentionProblem& p,
                                      const Tensor& qkv, const Tensor& direction) {
  const Tensor dcontext = problem_dcontext(p);
  auto objective = [&](float step) {
    Tensor shifted = qkv.clone();
    for (std::int64_t i = 0; i < qkv.numel(); ++i)
      shifted.data<float>()[i] += step * direction.data<float>()[i];
    Tensor context = Tensor::empty(p.context_shape());
    Tensor lse = Tensor::empty({p.batch, p.heads, p.steps});
    backend.attention_forward(shifted, problem_lengths(p), p.causal, p.dropout_args(), context,
                              lse);
    return dot(context, dcontext);
  };
  const float step = 1e-2f;
  return (objective(step) - objective(-step)) / (2.0 * step);
}

// Backward must recompute exactly the forward's dropout mask: the analytic
// derivative of L = sum(dcontext * context) along a random direction matches
// central differences of the forward pass. A different mask in backward would
// put the gradient of dropped probabilities where the forward has none.
TEST(Attention, CpuBackwardRecomputesForwardDropoutMask) {
  CpuBackend cpu(2);
  const AttentionProblem p{2, 67, 2, 32, {67, 45}, 0.3f};
  const Tensor qkv = problem_qkv(p);
  const Tensor dcontext = problem_dcontext(p);
  const Tensor direction = random_tensor(p.qkv_shape(), 43, 1.0f);
  const AttentionResult result = run_backend(cpu, p, qkv);
  const double analytic = dot(result.dqkv, direction);
  const double numeric = numeric_directional_derivative(cpu, p, qkv, direction);
  EXPECT_NEAR(analytic, numeric, 1e-3 * std::abs(numeric) + 1e-2)
      << "analytic " << analytic << " vs numeric " << numeric;
  // The same derivative with the mask of another step differs: the check has teeth.
  Tensor dqkv_other = Tensor::empty(p.qkv_shape());
  AttentionDropout other_dropout = p.dropout_args();
  other_dropout.step += 1;
  cpu.attention_backward(qkv, problem_lengths(p), p.causal, result.context, result.log_sum_exp,
                         dcontext, other_dropout, dqkv_other);
  const double other_analytic = dot(dqkv_other, direction);
  EXPECT_GT(std::abs(other_analytic - numeric), 10 * (1e-3 * std::abs(numeric) + 1e-2));
}

// Causal attention's gradient against central differences of the same
// backend's forward, along random directions of qkv (each direction moves
// queries, keys and values of every token), with padding and dropout on.
TEST(Attention, CausalGradientsMatchFiniteDifferences) {
  SerialBackend serial;
  CpuBackend cpu(2);
  const AttentionProblem p{2, 37, 2, 16, {37, 21}, 0.2f, true};
  const Tensor qkv = problem_qkv(p);
  for (Backend* backend : {static_cast<Backend*>(&serial), static_cast<Backend*>(&cpu)}) {
    SCOPED_TRACE(backend->name());
    const AttentionResult result = run_backend(*backend, p, qkv);
    for (std::uint64_t seed : {51, 52, 53}) {
      const Tensor direction = random_tensor(p.qkv_shape(), seed, 1.0f);
      const double analytic = dot(result.dqkv, direction);
      const double numeric = numeric_directional_derivative(*backend, p, qkv, direction);
      EXPECT_NEAR(analytic, numeric, 1e-3 * std::abs(numeric) + 1e-2)
          << "direction " << seed << ": analytic " << analytic << " vs numeric " << numeric;
    }
  }
}

// What causal means: changing token t (its query, key and value) leaves the
// context and log-sum-exp of every earlier position bit for bit as they were;
// later positions do change (the check has teeth).
TEST(Attention, CausalOutputsIgnoreLaterTokens) {
  SerialBackend serial;
  CpuBackend cpu(2);
  const AttentionProblem p{1, 140, 2, 32, {140}, 0.1f, true};
  const std::int64_t changed = 97, T = p.steps, hidden = p.hidden();
  const Tensor qkv = problem_qkv(p);
  Tensor other = qkv.clone();
  for (std::int64_t c = 0; c < 3 * hidden; ++c)
    other.data<float>()[changed * 3 * hidden + c] += 0.5f;
  for (Backend* backend : {static_cast<Backend*>(&serial), static_cast<Backend*>(&cpu)}) {
    SCOPED_TRACE(backend->name());
    const AttentionResult before = run_backend(*backend, p, qkv);
    const AttentionResult after = run_backend(*backend, p, other);
    const std::int64_t earlier = changed * hidden;
    EXPECT_EQ(std::memcmp(before.context.raw(), after.context.raw(), earlier * sizeof(float)), 0);
    for (std::int64_t h = 0; h < p.heads; ++h)
      EXPECT_EQ(std::memcmp(before.log_sum_exp.data<float>() + h * T,
                            after.log_sum_exp.data<float>() + h * T, changed * sizeof(float)),
                0);
    float later_change = 0.0f;
    for (std::int64_t i = earlier; i < T * hidden; ++i)
      later_change = std::max(later_change, std::abs(before.context.data<float>()[i] -
                                                     after.context.data<float>()[i]));
    EXPECT_GT(later_change, 1e-3f);
  }
}

// One thread runs a (batch, head) per task; two threads with a single head
// split forward query tiles and run backward's two-pass schedule. The tile
// arithmetic is the same, so the results are bit for bit the same.
TEST(Attention, CpuResultsDoNotDependOnThreadCount) {
  for (const AttentionProblem& p : {AttentionProblem{1, 150, 1, 32, {131}, 0.1f},
                                    AttentionProblem{2, 130, 4, 64, {97, 130}, 0.1f},
                                    AttentionProblem{1, 150, 1, 32, {131}, 0.1f, true},
                                    AttentionProblem{1, 600, 1, 32, {600}, 0.0f, true},
                                    AttentionProblem{2, 130, 4, 64, {97, 130}, 0.1f, true}}) {
    SCOPED_TRACE(problem_name(p));
    const Tensor qkv = problem_qkv(p);
    AttentionResult one, two;
    {
      CpuBackend cpu(1);
      one = run_backend(cpu, p, qkv);
    }
    {
      CpuBackend cpu(2);
      two = run_backend(cpu, p, qkv);
    }
    EXPECT_TRUE(bitwise_equal(one.context, two.context)) << "context";
    EXPECT_TRUE(bitwise_equal(one.log_sum_exp, two.log_sum_exp)) << "log_sum_exp";
    EXPECT_TRUE(bitwise_equal(one.dqkv, two.dqkv)) << "dqkv";
  }
}

// Keys past the length, including whole key tiles, are masked: outputs stay
// finite (queries at padded positions too), masked keys get zero dk and dv, a
// sequence without keys gets zero context and gradients.
TEST(Attention, FullyPaddedKeyTailStaysFinite) {
  SerialBackend serial;
  CpuBackend cpu(2);
  const AttentionProblem p{3, 130, 2, 32, {3, 130, 0}, 0.1f};
  const Tensor qkv = problem_qkv(p);
  for (Backend* backend : {static_cast<Backend*>(&serial), static_cast<Backend*>(&cpu)}) {
    SCOPED_TRACE(backend->name());
    const AttentionResult r = run_backend(*backend, p, qkv);
    for (float x : r.context.span<float>()) ASSERT_TRUE(std::isfinite(x));
    for (float x : r.dqkv.span<float>()) ASSERT_TRUE(std::isfinite(x));
    const std::int64_t T = p.steps, hidden = p.hidden();
    for (std::int64_t b = 0; b < p.batch; ++b)
      for (std::int64_t t = 0; t < T; ++t) {
        const float* grad = r.dqkv.data<float>() + (b * T + t) * 3 * hidden;
        const bool masked_key = t >= p.key_lengths[static_cast<std::size_t>(b)];
        for (std::int64_t c = 0; c < 2 * hidden && masked_key; ++c)
          ASSERT_EQ(grad[hidden + c], 0.0f) << "dk/dv of masked key " << t << " of sequence " << b;
        if (p.key_lengths[static_cast<std::size_t>(b)] == 0) {
          for (std::int64_t c = 0; c < hidden; ++c) {
            ASSERT_EQ(r.context.data<float>()[(b * T + t) * hidden + c], 0.0f);
            ASSERT_EQ(grad[c], 0.0f);
          }
        }
      }
    // Sequence 0 has 3 keys: the padded queries still attend to them.
    float padded_query_norm = 0.0f;
    for (std::int64_t c = 0; c < hidden; ++c)
      padded_query_norm += std::abs(r.context.data<float>()[(T - 1) * hidden + c]);
    EXPECT_GT(padded_query_norm, 0.0f);
  }
}

TEST(Attention, KeyLengthOutsideSequenceIsDataError) {
  SerialBackend serial;
  CpuBackend cpu(2);
  const AttentionProblem p{2, 9, 2, 4, {9, 10}, 0.0f};
  for (Backend* backend : {static_cast<Backend*>(&serial), static_cast<Backend*>(&cpu)}) {
    Tensor context = Tensor::empty(p.context_shape());
    Tensor lse = Tensor::empty({p.batch, p.heads, p.steps});
    EXPECT_THROW(backend->attention_forward(problem_qkv(p), problem_lengths(p), false, {}, context,
                                            lse),
                 DataError)
        << backend->name();
  }
}

}  // namespace
}  // namespace seqtrain::testing
