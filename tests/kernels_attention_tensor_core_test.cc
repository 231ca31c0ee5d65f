// The tensor-core attention kernels (kernels/attention_tensor_core.cu) on the
// CUDA emulation, whose WMMA fragments compute the products on the host
// (kernels/emu/wmma_emulation.h), held against the serial backend's
// attention_forward/backward, causal mask included; the plain
// double-precision attention below is a second reference, itself held against
// serial. Context, log-sum-exp
// and dqkv; bf16, fp16 and float storage; head dims 64 and 128; lengths that
// are not multiples of the tiles, padded keys (one sequence with none),
// dropout (the kernels must draw serial's very mask) and the causal mask.
//
// 16-bit storage cases round qkv and dcontext to the storage type before
// either side sees them and give both backwards the context rounded to
// storage, as tests/kernels_attention_test.cc does, so the comparison measures
// what the tensor-core path adds: P z and dS rounded to 16 bits before their
// products, fp32 sums in the tensor core's order, and the outputs' rounding.
//
// Outputs start as NaN, so an element a kernel fails to write fails the test;
// the emulation fills shared memory with NaN at every block start as well.
// Sizes stay small (B <= 2, heads <= 2, T <= 67); each test takes well under
// a second on our 2 cores.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "attention_test_case.h"
#include "kernel_test_storage.h"
#include "kernels/attention_tensor_core.h"
#include "kernels/bad_index.h"
#include "seqtrain/philox.h"
#include "test_support.h"

namespace seqtrain::testing {
namespace {

using kernels::AttentionBackwardArgs;
using kernels::AttentionForwardArgs;

struct Tolerance {
  double atol, rtol;
};

// ---- the reference -------------------------------------------------------------------

struct AttentionResult {
  Tensor context, log_sum_exp;  // forward
  Tensor saved_context;         // context rounded to storage: what backward reads
  Tensor dqkv;                  // backward
};

// Plain attention in double, with the causal mask: the formulas of
// Backend::attention_forward/backward plus "key j is masked for query i when
// j > i". Backward reads saved_context (D_i = dO_i . o_i) and its own lse.
class PlainAttention {
 public:
  PlainAttention(const AttentionCase& c, const Tensor& qkv)
      : c_(c), qkv_(qkv.to_vector()), lengths_(c.key_lengths) {}

  void forward(Tensor& context, Tensor& log_sum_exp) const {
    std::vector<float> out(static_cast<std::size_t>(shape_numel(c_.context_shape())), 0.0f);
    std::vector<float> lse(static_cast<std::size_t>(shape_numel(c_.log_sum_exp_shape())));
    for (std::int64_t b = 0; b < c_.batch; ++b)
      for (std::int64_t h = 0; h < c_.heads; ++h)
        for (std::int64_t i = 0; i < c_.steps; ++i) {
          const std::vector<double> p = probabilities(b, h, i);
          double sum = 0.0;
          for (double value : p) sum += value;
          lse[index_lse(b, h, i)] = sum > 0.0 ? static_cast<float>(log_sum(b, h, i))
                                              : -std::numeric_limits<float>::infinity();
          for (std::int64_t e = 0; e < c_.head_dim; ++e) {
            double o = 0.0;
            for (std::int64_t j = 0; j < c_.steps; ++j)
              o += p[static_cast<std::size_t>(j)] * dropout(b, h, i, j) * value(b, j, 2, h, e);
            out[index_context(b, i, h, e)] = static_cast<float>(o);
          }
        }
    context = Tensor::from_vector(out, c_.context_shape());
    log_sum_exp = Tensor::from_vector(lse, c_.log_sum_exp_shape());
  }

  Tensor backward(const Tensor& saved_context, const Tensor& dcontext) const {
    const std::vector<float> o = saved_context.to_vector(), d_o = dcontext.to_vector();
    std::vector<double> grad(qkv_.size(), 0.0);
    const double scale = 1.0 / std::sqrt(static_cast<double>(c_.head_dim));
    for (std::int64_t b = 0; b < c_.batch; ++b)
      for (std::int64_t h = 0; h < c_.heads; ++h)
        for (std::int64_t i = 0; i < c_.steps; ++i) {
          const std::vector<double> p = probabilities(b, h, i);
          double delta = 0.0;
          for (std::int64_t e = 0; e < c_.head_dim; ++e)
            delta += double{d_o[index_context(b, i, h, e)]} * o[index_context(b, i, h, e)];
          for (std::int64_t j = 0; j < c_.steps; ++j) {
            const double pj = p[static_cast<std::size_t>(j)], z = dropout(b, h, i, j);
            if (pj == 0.0) continue;
            double dp = 0.0;
            for (std::int64_t e = 0; e < c_.head_dim; ++e)
              dp += double{d_o[index_context(b, i, h, e)]} * value(b, j, 2, h, e);
            const double ds = pj * (z * dp - delta);
            for (std::int64_t e = 0; e < c_.head_dim; ++e) {
              grad[index_qkv(b, i, 0, h, e)] += scale * ds * value(b, j, 1, h, e);
              grad[index_qkv(b, j, 1, h, e)] += scale * ds * value(b, i, 0, h, e);
              grad[index_qkv(b, j, 2, h, e)] += pj * z * d_o[index_context(b, i, h, e)];
            }
          }
        }
    return Tensor::from_vector(std::vector<float>(grad.begin(), grad.end()), c_.qkv_shape());
  }

 private:
  std::size_t index_qkv(std::int64_t b, std::int64_t t, std::int64_t part, std::int64_t h,
                        std::int64_t e) const {
    return static_cast<std::size_t>((((b * c_.steps + t) * 3 + part) * c_.heads + h) * c_.head_dim +
                                    e);
  }
  std::size_t index_context(std::int64_t b, std::int64_t t, std::int64_t h, std::int64_t e) const {
    return static_cast<std::size_t>((b * c_.steps + t) * c_.heads * c_.head_dim + h * c_.head_dim +
                                    e);
  }
  std::size_t index_lse(std::int64_t b, std::int64_t h, std::int64_t i) const {
    return static_cast<std::size_t>((b * c_.heads + h) * c_.steps + i);
  }
  double value(std::int64_t b, std::int64_t t, std::int64_t part, std::int64_t h,
               std::int64_t e) const {
    return qkv_[index_qkv(b, t, part, h, e)];
  }
  bool visible(std::int64_t b, std::int64_t i, std::int64_t j) const {
    const std::int64_t length = lengths_[static_cast<std::size_t>(b)];
    return j < length && (!c_.causal || j <= i);
  }
  double score(std::int64_t b, std::int64_t h, std::int64_t i, std::int64_t j) const {
    double s = 0.0;
    for (std::int64_t e = 0; e < c_.head_dim; ++e) s += value(b, i, 0, h, e) * value(b, j, 1, h, e);
    return s / std::sqrt(static_cast<double>(c_.head_dim));
  }
  double log_sum(std::int64_t b, std::int64_t h, std::int64_t i) const {
    double max = -std::numeric_limits<double>::infinity(), sum = 0.0;
    for (std::int64_t j = 0; j < c_.steps; ++j)
      if (visible(b, i, j)) max = std::max(max, score(b, h, i, j));
    for (std::int64_t j = 0; j < c_.steps; ++j)
      if (visible(b, i, j)) sum += std::exp(score(b, h, i, j) - max);
    return max + std::log(sum);
  }
  // p_ij (before dropout) for every j; zeros where masked.
  std::vector<double> probabilities(std::int64_t b, std::int64_t h, std::int64_t i) const {
    std::vector<double> p(static_cast<std::size_t>(c_.steps), 0.0);
    bool any = false;
    for (std::int64_t j = 0; j < c_.steps; ++j) any = any || visible(b, i, j);
    if (!any) return p;
    const double lse = log_sum(b, h, i);
    for (std::int64_t j = 0; j < c_.steps; ++j)
      if (visible(b, i, j)) p[static_cast<std::size_t>(j)] = std::exp(score(b, h, i, j) - lse);
    return p;
  }
  double dropout(std::int64_t b, std::int64_t h, std::int64_t i, std::int64_t j) const {
    if (c_.dropout <= 0.0f) return 1.0;
    const AttentionDropout d = c_.dropout_args();
    const auto element =
        static_cast<std::uint64_t>(((b * c_.heads + h) * c_.steps + i) * c_.steps + j);
    return philox_uniform(d.seed, d.stream, d.step, element + d.first_index) >= d.probability
               ? 1.0 / (1.0 - static_cast<double>(d.probability))
               : 0.0;
  }

  AttentionCase c_;
  std::vector<float> qkv_;
  std::vector<std::int32_t> lengths_;
};

struct Inputs {
  Tensor qkv, lengths, dcontext;
};

template <class Storage>
Inputs make_inputs(const AttentionCase& c, std::uint64_t seed) {
  return {rounded_to_storage<Storage>(random_tensor(c.qkv_shape(), seed, 1.5f)),
          Tensor::from_vector(c.key_lengths, {c.batch}),
          rounded_to_storage<Storage>(random_tensor(c.context_shape(), seed + 1))};
}

// The expected values: the serial backend (with the causal mask when the case has it).
template <class Storage>
AttentionResult expected_attention(const AttentionCase& c, const Inputs& in) {
  AttentionResult r;
  r.context = Tensor::empty(c.context_shape());
  r.log_sum_exp = Tensor::empty(c.log_sum_exp_shape());
  r.dqkv = Tensor::empty(c.qkv_shape());
  auto serial = make_serial_backend();
  serial->attention_forward(in.qkv, in.lengths, c.causal, c.dropout_args(), r.context,
                            r.log_sum_exp);
  r.saved_context = rounded_to_storage<Storage>(r.context);
  serial->attention_backward(in.qkv, in.lengths, c.causal, r.saved_context, r.log_sum_exp,
                             in.dcontext, c.dropout_args(), r.dqkv);
  return r;
}

template <class Storage>
std::vector<Storage> nan_filled(std::int64_t count) {
  return std::vector<Storage>(static_cast<std::size_t>(count),
                              storage_from_float<Storage>(std::numeric_limits<float>::quiet_NaN()));
}

// The kernels on the same inputs (host memory is device memory under the
// emulation); backward reads the expected saved context and lse, so each pass
// is compared on its own.
// kernel_lengths: the key lengths the kernels read, when not c.key_lengths;
// bad_length: the flag of kernels/bad_index.h, when given.
template <class Storage>
AttentionResult run_kernels(const AttentionCase& c, const Inputs& in,
                            const AttentionResult& expected,
                            const std::vector<std::int32_t>* kernel_lengths = nullptr,
                            unsigned long long* bad_length = nullptr) {
  const std::vector<Storage> qkv = storage_values<Storage>(in.qkv);
  const std::vector<Storage> dcontext = storage_values<Storage>(in.dcontext);
  const std::vector<Storage> saved_context = storage_values<Storage>(expected.saved_context);
  const std::vector<float> saved_lse = expected.log_sum_exp.to_vector();
  const std::vector<std::int32_t>& lengths =
      kernel_lengths != nullptr ? *kernel_lengths : c.key_lengths;

  std::vector<Storage> context = nan_filled<Storage>(shape_numel(c.context_shape()));
  std::vector<float> log_sum_exp = nan_filled<float>(shape_numel(c.log_sum_exp_shape()));
  std::vector<Storage> dqkv = nan_filled<Storage>(shape_numel(c.qkv_shape()));

  const AttentionForwardArgs<Storage> forward = forward_args(
      c, qkv.data(), lengths.data(), context.data(), log_sum_exp.data(), bad_length);
  kernels::attention_tensor_core_forward(forward, nullptr);

  std::vector<float> workspace = nan_filled<float>(static_cast<std::int64_t>(
      kernels::attention_workspace_bytes(forward.batch, forward.steps, forward.heads) /
      sizeof(float)));
  const AttentionBackwardArgs<Storage> backward =
      backward_args(forward, saved_context.data(), saved_lse.data(), dcontext.data(),
                    dqkv.data(), workspace.data());
  kernels::attention_tensor_core_backward(backward, nullptr);

  AttentionResult k;
  k.context = storage_tensor(context, c.context_shape());
  k.log_sum_exp = Tensor::from_vector(log_sum_exp, c.log_sum_exp_shape());
  k.dqkv = storage_tensor(dqkv, c.qkv_shape());
  return k;
}

// lse is -inf exactly where a sequence has no keys; elsewhere it is compared
// with a tolerance (-inf replaced by 0 on both sides once they agree).
::testing::AssertionResult log_sum_exp_close(const Tensor& actual, const Tensor& expected,
                                             Tolerance tolerance) {
  std::vector<float> got = actual.to_vector(), want = expected.to_vector();
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (std::isinf(want[i]) != std::isinf(got[i]))
      return ::testing::AssertionFailure()
             << "log_sum_exp[" << i << "] = " << got[i] << ", expected " << want[i];
    if (std::isinf(want[i])) want[i] = got[i] = 0.0f;
  }
  return tensors_close(Tensor::from_vector(got, expected.shape()),
                       Tensor::from_vector(want, expected.shape()), tolerance.atol, tolerance.rtol);
}

template <class Storage>
void expect_kernels_match(const AttentionCase& c, Tolerance tolerance, std::uint64_t seed = 11) {
  const Inputs in = make_inputs<Storage>(c, seed);
  const AttentionResult want = expected_attention<Storage>(c, in);
  const AttentionResult got = run_kernels<Storage>(c, in, want);
  EXPECT_TRUE(tensors_close(got.context, want.context, tolerance.atol, tolerance.rtol))
      << "context";
  // lse: fp32 sums of exp of fp32 scores. With 16-bit storage the scores'
  // inputs are exact and lse is within fp32 rounding (worst seen 5e-7); float
  // storage rounds q and k to bf16 on the way in, which moves lse as much as
  // the other outputs.
  const Tolerance lse_tolerance =
      std::is_same_v<Storage, float> ? tolerance : Tolerance{1e-5, 1e-5};
  EXPECT_TRUE(log_sum_exp_close(got.log_sum_exp, want.log_sum_exp, lse_tolerance)) << "log_sum_exp";
  EXPECT_TRUE(tensors_close(got.dqkv, want.dqkv, tolerance.atol, tolerance.rtol)) << "dqkv";
}

// bf16 operands and storage: P z and dS enter their products rounded to bf16
// (relative error up to 2^-9), fp32 sums run in the tensor core's order, and
// outputs are stored in bf16 (half a step: 2^-9 relative, 0.0078 at 2). The
// storage rounding dominates: worst errors seen are 0.006 in context (at 1.5)
// and 0.0074 in dqkv (at 2.0), within atol + rtol |ref| = 0.03 there.
constexpr Tolerance kBf16Tolerance{1e-2, 1e-2};
// fp16: 2^-11 relative rounding of P z, dS and the outputs, a quarter of
// bf16's; worst seen 0.0005 (context) and 0.0007 (dqkv) at magnitudes ~1.3.
constexpr Tolerance kHalfTolerance{3e-3, 3e-3};
// float storage (training.precision bf16 on f32 activations): q, k, v and dO
// are rounded to bf16 as they enter shared memory while the reference keeps
// them exact, so scores move by up to 2^-8 |s| as well; outputs are f32. Worst
// seen: context 0.0028, lse 0.0014, dqkv 0.0052 (at 0.45).
constexpr Tolerance kFloatStorageBf16Tolerance{1e-2, 1e-2};

// Tiles: forward and dq 64 queries x 32 keys at d 64, 32 x 32 at d 128; dk_dv
// 64 keys x 32 queries at d 64, 32 x 32 at d 128.

TEST(AttentionTensorCoreKernels, PlainReferenceWithoutMaskMatchesSerial) {
  // The causal tests' reference, held against serial where both apply.
  const AttentionCase c{2, 19, 1, 64, {19, 11}, 0.2f, false};
  const Inputs in = make_inputs<float>(c, 3);
  const AttentionResult serial = expected_attention<float>(c, in);
  AttentionResult plain;
  const PlainAttention reference(c, in.qkv);
  reference.forward(plain.context, plain.log_sum_exp);
  plain.dqkv = reference.backward(serial.saved_context, in.dcontext);
  EXPECT_TRUE(tensors_close(plain.context, serial.context, 1e-5, 1e-5));
  EXPECT_TRUE(log_sum_exp_close(plain.log_sum_exp, serial.log_sum_exp, {1e-5, 1e-5}));
  EXPECT_TRUE(tensors_close(plain.dqkv, serial.dqkv, 1e-5, 1e-5));
}

TEST(AttentionTensorCoreKernels, Bf16HeadDim64SpansTilesWithPadding) {
  // T 67: query tiles 64 + 3; key tiles 32 + 32 + 3 (L 67) and 32 + 1 (L 33);
  // dk_dv key blocks 64 + 3, the second past L 33 writing zeros.
  expect_kernels_match<__nv_bfloat16>({2, 67, 2, 64, {67, 33}}, kBf16Tolerance);
}

TEST(AttentionTensorCoreKernels, Bf16HeadDim128WithASequenceWithoutKeys) {
  // T 37 at d 128: query and key tiles 32 + 5; L 0 gives zero context and
  // gradients and lse -inf.
  expect_kernels_match<__nv_bfloat16>({2, 37, 1, 128, {37, 0}}, kBf16Tolerance);
}

TEST(AttentionTensorCoreKernels, SingleStep) {
  expect_kernels_match<__nv_bfloat16>({1, 1, 2, 64, {1}}, kBf16Tolerance);
}

TEST(AttentionTensorCoreKernels, DropoutRecomputesSerialsMask) {
  // A single element kept or dropped differently from serial moves the
  // context by ~0.1, far outside the tolerance.
  expect_kernels_match<__nv_bfloat16>({2, 45, 1, 64, {45, 30}, 0.2f}, kBf16Tolerance);
  expect_kernels_match<__nv_bfloat16>({1, 23, 2, 128, {21}, 0.1f}, kBf16Tolerance, 29);
}

// A data-parallel rank's dropout offset is attention.cu's to draw (the cuda
// backend routes it there: CudaBackendOps.AttentionWithARanksDropoutOffset...).
TEST(AttentionTensorCoreKernels, ADropoutOffsetIsRefused) {
  AttentionCase offset{2, 45, 1, 64, {45, 30}, 0.2f};
  offset.first_index = 2 * 45 * 45 + 7;
  EXPECT_THROW(expect_kernels_match<__nv_bfloat16>(offset, kBf16Tolerance),
               std::invalid_argument);
}

TEST(AttentionTensorCoreKernels, CausalWithPaddingMatchesPlainAttention) {
  // T 67 at d 64: the first query tile (rows 0-63) stops after key tile 32-63,
  // dk_dv's second key block (64-66) starts at query tile 64; L 50 cuts the
  // diagonal tiles short.
  expect_kernels_match<__nv_bfloat16>({2, 67, 1, 64, {67, 50}, 0.0f, true}, kBf16Tolerance);
}

TEST(AttentionTensorCoreKernels, CausalWithDropoutAtHeadDim128) {
  expect_kernels_match<__nv_bfloat16>({1, 45, 2, 128, {45}, 0.1f, true}, kBf16Tolerance, 31);
}

TEST(AttentionTensorCoreKernels, CausalOutputsIgnoreLaterTokens) {
  // Changing the last tokens leaves every earlier row's context and lse
  // bit-identical: later keys are never read into earlier rows.
  const AttentionCase c{1, 40, 1, 64, {40}, 0.0f, true};
  Inputs in = make_inputs<__nv_bfloat16>(c, 41);
  const AttentionResult want = expected_attention<__nv_bfloat16>(c, in);
  const AttentionResult first = run_kernels<__nv_bfloat16>(c, in, want);
  std::vector<float> qkv = in.qkv.to_vector();
  const std::int64_t changed_from = 35, token = 3 * c.heads * c.head_dim;
  for (std::int64_t at = changed_from * token; at < c.steps * token; ++at)
    qkv[static_cast<std::size_t>(at)] = -qkv[static_cast<std::size_t>(at)] + 0.5f;
  in.qkv = rounded_to_storage<__nv_bfloat16>(Tensor::from_vector(qkv, c.qkv_shape()));
  const AttentionResult second = run_kernels<__nv_bfloat16>(c, in, want);
  const std::vector<float> a = first.context.to_vector(), b = second.context.to_vector();
  const std::vector<float> lse_a = first.log_sum_exp.to_vector(),
                           lse_b = second.log_sum_exp.to_vector();
  for (std::int64_t i = 0; i < changed_from; ++i) {
    EXPECT_EQ(lse_a[static_cast<std::size_t>(i)], lse_b[static_cast<std::size_t>(i)]) << i;
    for (std::int64_t e = 0; e < c.head_dim; ++e) {
      const auto at = static_cast<std::size_t>(i * c.head_dim + e);
      ASSERT_EQ(a[at], b[at]) << "row " << i << " column " << e;
    }
  }
  EXPECT_NE(a[static_cast<std::size_t>(39 * c.head_dim)],
            b[static_cast<std::size_t>(39 * c.head_dim)]);
}

TEST(AttentionTensorCoreKernels, Fp16StorageAndOperands) {
  expect_kernels_match<__half>({2, 37, 1, 64, {37, 20}, 0.1f}, kHalfTolerance);
  expect_kernels_match<__half>({1, 19, 1, 128, {19}, 0.0f, true}, kHalfTolerance, 17);
}

TEST(AttentionTensorCoreKernels, FloatStorageRoundsOperandsToBf16) {
  // What the cuda backend runs under training.precision bf16: f32 tensors,
  // bf16 products, f32 outputs.
  expect_kernels_match<float>({2, 37, 2, 64, {37, 25}, 0.1f}, kFloatStorageBf16Tolerance);
  expect_kernels_match<float>({1, 21, 1, 128, {21}, 0.0f, true}, kFloatStorageBf16Tolerance, 19);
}

TEST(AttentionTensorCoreKernels, KeyLengthsOutsideTheSequenceAreClampedAndReported) {
  // Lengths 12 and -3 at T 9 run as 9 and 0, and the flag names the first
  // bad one (sequence 0, length 12), as kernels/attention.cu does.
  const AttentionCase c{2, 9, 1, 64, {9, 0}};
  const Inputs in = make_inputs<__nv_bfloat16>(c, 43);
  const AttentionResult want = expected_attention<__nv_bfloat16>(c, in);
  const std::vector<std::int32_t> bad_lengths{12, -3};
  unsigned long long flag = 0;
  const AttentionResult got = run_kernels<__nv_bfloat16>(c, in, want, &bad_lengths, &flag);
  EXPECT_TRUE(tensors_close(got.context, want.context, kBf16Tolerance.atol, kBf16Tolerance.rtol));
  EXPECT_TRUE(tensors_close(got.dqkv, want.dqkv, kBf16Tolerance.atol, kBf16Tolerance.rtol));
  const kernels::BadIndex bad = kernels::decode_bad_index(flag);
  EXPECT_TRUE(bad.found);
  EXPECT_EQ(bad.position, 0);
  EXPECT_EQ(bad.value, 12);
}

TEST(AttentionTensorCoreKernels, UnsupportedHeadDimIsRejected) {
  AttentionForwardArgs<__nv_bfloat16> args;
  args.batch = 1;
  args.steps = 4;
  args.heads = 1;
  args.head_dim = 32;
  EXPECT_THROW(kernels::attention_tensor_core_forward(args, nullptr), std::invalid_argument);
  EXPECT_FALSE(kernels::attention_tensor_core_supports_head_dim(32));
  EXPECT_TRUE(kernels::attention_tensor_core_supports_head_dim(64));
  EXPECT_TRUE(kernels::attention_tensor_core_supports_head_dim(128));
}

}  // namespace
}  // namespace seqtrain::testing
