// The attention kernels (kernels/attention.cu) on the CUDA emulation, held
// against the serial backend's attention_forward/backward: context,
// log-sum-exp and dqkv, for fp32 and bf16 storage, head dims 32, 64 and 128,
// lengths that are not multiples of the tiles, padded keys (one sequence with
// no keys at all), dropout (the kernels must draw serial's very mask) and
// causal masking (against serial and against a PyTorch fixture).
//
// bf16 cases round qkv and dcontext to bf16 before either side sees them, and
// give both backwards the serial context rounded to bf16 (what a bf16 forward
// stores), so the comparison measures the kernels' arithmetic and the rounding
// of their outputs, not the rounding of their inputs.
//
// Outputs start as NaN, so an element a kernel fails to write fails the test;
// the emulation fills shared memory with NaN at every block start as well.
// Sizes stay tiny (B <= 2, heads <= 2, T <= 67): the emulation costs about 3 us
// per thread per barrier or shuffle; each test took 0.2 to 1.7 s on our 2 cores
// while other builds kept the load average near 15.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "attention_test_case.h"
#include "kernel_test_storage.h"
#include "kernels/attention.h"
#include "test_support.h"

namespace seqtrain::testing {
namespace {

using kernels::AttentionBackwardArgs;
using kernels::AttentionForwardArgs;

struct Tolerance {
  double atol, rtol;
};

template <class Storage>
std::vector<Storage> nan_filled(std::int64_t count) {
  return std::vector<Storage>(static_cast<std::size_t>(count),
                              storage_from_float<Storage>(std::numeric_limits<float>::quiet_NaN()));
}

// Serial forward on random inputs, then serial backward from its outputs.
struct SerialAttention {
  Tensor qkv, lengths, dcontext;
  Tensor context, log_sum_exp;  // forward outputs
  Tensor saved_context;         // context as the backward reads it (rounded to storage)
  Tensor dqkv;
};

template <class Storage>
SerialAttention run_serial(const AttentionCase& c, std::uint64_t seed) {
  SerialAttention s;
  s.qkv = rounded_to_storage<Storage>(random_tensor(c.qkv_shape(), seed, 1.5f));
  s.lengths = Tensor::from_vector(c.key_lengths, {c.batch});
  s.dcontext = rounded_to_storage<Storage>(random_tensor(c.context_shape(), seed + 1));
  s.context = Tensor::empty(c.context_shape());
  s.log_sum_exp = Tensor::empty(c.log_sum_exp_shape());
  s.dqkv = Tensor::empty(c.qkv_shape());
  auto serial = make_serial_backend();
  serial->attention_forward(s.qkv, s.lengths, c.causal, c.dropout_args(), s.context,
                            s.log_sum_exp);
  s.saved_context = rounded_to_storage<Storage>(s.context);
  serial->attention_backward(s.qkv, s.lengths, c.causal, s.saved_context, s.log_sum_exp, s.dcontext,
                             c.dropout_args(), s.dqkv);
  return s;
}


template <class Storage>
struct KernelAttention {
  std::vector<Storage> context, dqkv;
  std::vector<float> log_sum_exp;
};

// The kernels on the same inputs (host memory is device memory under the
// emulation); backward reads serial's saved context and lse, so each pass is
// compared on its own.
template <class Storage>
KernelAttention<Storage> run_kernels(const AttentionCase& c, const SerialAttention& s) {
  const std::vector<Storage> qkv = storage_values<Storage>(s.qkv);
  const std::vector<Storage> dcontext = storage_values<Storage>(s.dcontext);
  const std::vector<Storage> saved_context = storage_values<Storage>(s.saved_context);
  const std::vector<float> saved_lse = s.log_sum_exp.to_vector();
  const std::int32_t* lengths = s.lengths.data<std::int32_t>();

  KernelAttention<Storage> k;
  k.context = nan_filled<Storage>(s.context.numel());
  k.log_sum_exp = nan_filled<float>(s.log_sum_exp.numel());
  k.dqkv = nan_filled<Storage>(s.qkv.numel());

  const AttentionForwardArgs<Storage> forward =
      forward_args(c, qkv.data(), lengths, k.context.data(), k.log_sum_exp.data());
  kernels::attention_forward(forward, nullptr);

  std::vector<float> workspace = nan_filled<float>(static_cast<std::int64_t>(
      kernels::attention_workspace_bytes(forward.batch, forward.steps, forward.heads) /
      sizeof(float)));
  const AttentionBackwardArgs<Storage> backward =
      backward_args(forward, saved_context.data(), saved_lse.data(), dcontext.data(),
                    k.dqkv.data(), workspace.data());
  kernels::attention_backward(backward, nullptr);
  return k;
}

// lse is -inf exactly where a sequence has no keys; elsewhere it is compared
// with a tolerance (-inf replaced by 0 on both sides once they agree).
::testing::AssertionResult log_sum_exp_close(std::vector<float> actual, Tensor expected,
                                             Tolerance tolerance) {
  std::vector<float> want = expected.to_vector();
  for (std::size_t i = 0; i < want.size(); ++i) {
    const bool want_inf = std::isinf(want[i]), got_inf = std::isinf(actual[i]);
    if (want_inf != got_inf)
      return ::testing::AssertionFailure()
             << "log_sum_exp[" << i << "] = " << actual[i] << ", expected " << want[i];
    if (want_inf) want[i] = actual[i] = 0.0f;
  }
  return tensors_close(Tensor::from_vector(actual, expected.shape()),
                       Tensor::from_vector(want, expected.shape()), tolerance.atol, tolerance.rtol);
}

template <class Storage>
void expect_kernels_match_serial(const AttentionCase& c, Tolerance tolerance,
                                 std::uint64_t seed = 11) {
  const SerialAttention s = run_serial<Storage>(c, seed);
  const KernelAttention<Storage> k = run_kernels<Storage>(c, s);
  EXPECT_TRUE(tensors_close(storage_tensor(k.context, c.context_shape()), s.context, tolerance.atol,
                            tolerance.rtol))
      << "context";
  EXPECT_TRUE(log_sum_exp_close(k.log_sum_exp, s.log_sum_exp, tolerance)) << "log_sum_exp";
  EXPECT_TRUE(
      tensors_close(storage_tensor(k.dqkv, c.qkv_shape()), s.dqkv, tolerance.atol, tolerance.rtol))
      << "dqkv";
}

// fp32: summation order and fp32 instead of serial's double accumulation; the
// worst errors seen are about 4e-7 (dqkv, context, lse of magnitude 0.1 to 4).
// On a GPU __expf is approximate and would need about 1e-5 relative.
constexpr Tolerance kFloatTolerance{2e-6, 1e-5};
// bf16: outputs rounded to 8 bits of mantissa (2^-9 relative) on fp32 math; the
// worst errors seen are half a bf16 step, 0.002 at magnitude 0.55.
constexpr Tolerance kBf16Tolerance{2e-3, 1e-2};

// Tiles (queries x keys): forward 64x64 at d 32, 64x32 at d 64, 32x32 at d 128;
// backward 64x32, 32x32 and 16x16.

TEST(AttentionKernels, HeadDim32SpansTilesWithPartialLastTiles) {
  // T 67: forward has query tiles 64 + 3 and key tiles 64 + 3 (L 67) or one
  // tile of 40 keys; backward has key tiles 32 + 32 + 3, and for L 40 a third
  // key block entirely past L that writes zero dk and dv.
  expect_kernels_match_serial<float>({2, 67, 2, 32, {67, 40}}, kFloatTolerance);
}

TEST(AttentionKernels, HeadDim64SingleShortTileAndSequenceWithoutKeys) {
  // T 17: one partial tile everywhere; L 0 gives zero context and gradients
  // and lse -inf.
  expect_kernels_match_serial<float>({2, 17, 2, 64, {17, 0}}, kFloatTolerance);
}

TEST(AttentionKernels, SingleStep) {
  // T 1: a tile with one query and one key; softmax of a single score is 1.
  expect_kernels_match_serial<float>({2, 1, 2, 64, {1, 1}}, kFloatTolerance);
}

TEST(AttentionKernels, HeadDim64SeveralTilesWithPadding) {
  // T 67 at d 64: query tiles 64 + 3 (forward), 32 + 32 + 3 (backward); key
  // tiles 32 + 32 + 3 for L 67 and 32 + 1 for L 33.
  expect_kernels_match_serial<float>({2, 67, 2, 64, {67, 33}}, kFloatTolerance);
}

TEST(AttentionKernels, HeadDim128SmallTiles) {
  // T 20 at d 128: forward one partial 32x32 tile; backward 16 + 4 queries and
  // keys, L 9 leaves the second key block of sequence 1 past L.
  expect_kernels_match_serial<float>({2, 20, 1, 128, {20, 9}}, kFloatTolerance);
}

TEST(AttentionKernels, DropoutRecomputesSerialsMaskForwardAndBackward) {
  // Dropout 0.2 on T 67 and T 17: a single element kept or dropped differently
  // from serial moves the context by ~0.1, far outside the tolerance. Odd
  // key-tile starts put the Philox blocks (4 elements each) across run edges.
  expect_kernels_match_serial<float>({2, 67, 1, 64, {67, 45}, 0.2f}, kFloatTolerance);
  expect_kernels_match_serial<float>({2, 17, 2, 32, {13, 17}, 0.2f}, kFloatTolerance, 23);
  // A data-parallel rank's rows start at an odd offset into the global batch's
  // numbering (across Philox blocks of four): its masks are serial's there.
  AttentionCase offset{2, 17, 2, 32, {13, 17}, 0.2f};
  offset.first_index = 4 * 17 * 17 + 5;
  expect_kernels_match_serial<float>(offset, kFloatTolerance);
}

TEST(AttentionKernels, Bf16StorageWithFp32MathMatchesSerial) {
  expect_kernels_match_serial<__nv_bfloat16>({2, 67, 1, 64, {67, 50}, 0.1f}, kBf16Tolerance);
  expect_kernels_match_serial<__nv_bfloat16>({2, 17, 2, 32, {17, 0}}, kBf16Tolerance);
}

TEST(AttentionKernels, Bf16HeadDim128) {
  expect_kernels_match_serial<__nv_bfloat16>({1, 18, 2, 128, {18}}, kBf16Tolerance);
}

// Causal: forward and dq stop at the query tile's diagonal key tile, dk_dv
// starts at the key tile's diagonal query tile; inside those tiles j > i is
// masked. Uneven lengths make the padding mask cut across the diagonal.
TEST(AttentionKernels, CausalHeadDim32SkipsTilesAboveTheDiagonal) {
  // T 67: forward tiles 64 x 64 (the second query tile, 3 rows, sees both key
  // tiles); backward 64 x 32: key tile 64..66 is seen only by query tile 64..66.
  expect_kernels_match_serial<float>({2, 67, 2, 32, {67, 40}, 0.0f, true}, kFloatTolerance);
}

TEST(AttentionKernels, CausalHeadDim64WithDropoutAndEmptySequence) {
  expect_kernels_match_serial<float>({2, 45, 1, 64, {45, 0}, 0.2f, true}, kFloatTolerance, 29);
  expect_kernels_match_serial<float>({2, 17, 2, 64, {17, 9}, 0.0f, true}, kFloatTolerance);
}

TEST(AttentionKernels, CausalHeadDim128AndBf16) {
  // d 128: 32 x 32 forward, 16 x 16 backward tiles; T 37 has three partial
  // diagonal steps.
  expect_kernels_match_serial<float>({1, 37, 1, 128, {37}, 0.1f, true}, kFloatTolerance);
  expect_kernels_match_serial<__nv_bfloat16>({2, 33, 1, 64, {33, 20}, 0.1f, true},
                                             kBf16Tolerance);
}

// The kernels against PyTorch: scaled_dot_product_attention with is_causal
// (and with the causal mask and key padding together) in float64, written by
// scripts/make_attention_reference.py (attention_reference_test.cc holds the
// serial and cpu backends to the same file). Backward reads PyTorch's context
// and log-sum-exp.
TEST(AttentionKernels, CausalMatchesPyTorchReference) {
  const SafetensorsContents fixture = read_safetensors(
      std::string(SEQTRAIN_FIXTURES) + "/attention_reference_causal.safetensors");
  auto tensor = [&](const std::string& name) { return fixture.tensors.at(name); };
  const Tensor qkv = tensor("qkv");
  for (const std::string case_name : {"causal", "causal_padded"}) {
    SCOPED_TRACE(case_name);
    AttentionCase c;
    c.batch = qkv.dim(0);
    c.steps = qkv.dim(1);
    c.heads = qkv.dim(3);
    c.head_dim = qkv.dim(4);
    const Tensor lengths = tensor(case_name + ".lengths");
    c.key_lengths.assign(lengths.span<std::int32_t>().begin(), lengths.span<std::int32_t>().end());
    c.causal = true;
    SerialAttention reference;
    reference.qkv = qkv;
    reference.lengths = tensor(case_name + ".lengths");
    reference.dcontext = tensor("dcontext");
    reference.context = reference.saved_context = tensor(case_name + ".context");
    reference.log_sum_exp = tensor(case_name + ".log_sum_exp");
    reference.dqkv = tensor(case_name + ".dqkv");
    const KernelAttention<float> k = run_kernels<float>(c, reference);
    EXPECT_TRUE(tensors_close(storage_tensor(k.context, c.context_shape()), reference.context,
                              kFloatTolerance.atol, kFloatTolerance.rtol))
        << "context";
    EXPECT_TRUE(log_sum_exp_close(k.log_sum_exp, reference.log_sum_exp, kFloatTolerance))
        << "log_sum_exp";
    EXPECT_TRUE(tensors_close(storage_tensor(k.dqkv, c.qkv_shape()), reference.dqkv,
                              kFloatTolerance.atol, kFloatTolerance.rtol))
        << "dqkv";
  }
}

TEST(AttentionKernels, UnsupportedHeadDimIsRejected) {
  AttentionForwardArgs<float> args;
  args.batch = 1;
  args.steps = 4;
  args.heads = 1;
  args.head_dim = 48;
  EXPECT_THROW(kernels::attention_forward(args, nullptr), std::invalid_argument);
  EXPECT_FALSE(kernels::attention_supports_head_dim(48));
  EXPECT_TRUE(kernels::attention_supports_head_dim(128));
}

}  // namespace
}  // namespace seqtrain::testing
