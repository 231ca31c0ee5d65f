// Mixed precision (training.precision bf16): the host bf16 rounding against
// its definition, the serial oracle's bf16 matmul against the fp32 product of
// rounded operands, the cpu backend's oneDNN bf16 GEMMs against the oracle,
// and 20 training steps of the adding task and of a small BERT in bf16 against
// fp32 on the cpu backend. A CPU without avx512_bf16 or AMX refuses bf16 in
// one line instead (the tests check whichever this machine shows).
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "backends/cpu/cpu_backend.h"
#include "backends/serial/serial_backend.h"
#include "precision_test_support.h"
#include "seqtrain/bfloat16.h"
#include "test_support.h"

namespace seqtrain::testing {
namespace {

bool cpu_has_bf16() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512bf16") || __builtin_cpu_supports("amx-bf16");
}

float from_bits(std::uint32_t bits) {
  float x;
  std::memcpy(&x, &bits, 4);
  return x;
}

TEST(Bfloat16, RoundsToNearestEvenAndKeepsSpecialValues) {
  EXPECT_EQ(round_to_bf16(1.0f), 1.0f);
  // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: the even one (1) wins;
  // 1 + 3 * 2^-8 lies halfway between 1 + 2^-7 and 1 + 2^-6: 1 + 2^-6 is even.
  EXPECT_EQ(round_to_bf16(1.0f + 0x1p-8f), 1.0f);
  EXPECT_EQ(round_to_bf16(1.0f + 3 * 0x1p-8f), 1.0f + 0x1p-6f);
  EXPECT_EQ(round_to_bf16(1.0f + 0x1p-8f + 0x1p-20f), 1.0f + 0x1p-7f);  // above half: up
  EXPECT_EQ(round_to_bf16(-2.5f), -2.5f);
  EXPECT_EQ(round_to_bf16(std::numeric_limits<float>::infinity()),
            std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(round_to_bf16(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(std::isnan(round_to_bf16(from_bits(0x7F800001u))));  // a NaN whose top bits look infinite
  EXPECT_EQ(round_to_bf16(std::numeric_limits<float>::max()),
            std::numeric_limits<float>::infinity());  // past bf16's largest finite value
  EXPECT_EQ(std::signbit(round_to_bf16(-0.0f)), true);
}

Tensor rounded(const Tensor& x) {
  Tensor out = x.clone();
  for (float& v : out.span<float>()) v = round_to_bf16(v);
  return out;
}

struct Product {
  Shape a, b;
  bool transpose_a, transpose_b;
  float alpha, beta;
};

std::vector<Product> products() {
  return {{{13, 37}, {37, 21}, false, false, 1.0f, 0.0f},
          {{37, 13}, {37, 21}, true, false, 0.5f, 1.0f},
          {{13, 37}, {21, 37}, false, true, 1.0f, 0.5f},
          {{3, 13, 37}, {37, 21}, false, false, 1.0f, 0.0f},     // shared B
          {{3, 37, 13}, {3, 21, 37}, true, true, 2.0f, 0.0f}};  // batched, both transposed
}

Shape output_shape(const Product& p) {
  const std::int64_t m = p.transpose_a ? p.a.back() : p.a.end()[-2];
  const std::int64_t n = p.transpose_b ? p.b.end()[-2] : p.b.back();
  return p.a.size() == 3 ? Shape{p.a[0], m, n} : Shape{m, n};
}

TEST(Bf16Matmul, SerialIsTheFp32ProductOfRoundedOperands) {
  SerialBackend serial;
  for (const Product& p : products()) {
    const Tensor a = random_tensor(p.a, 1), b = random_tensor(p.b, 2);
    const Tensor c0 = random_tensor(output_shape(p), 3);
    Tensor bf16 = c0.clone(), of_rounded = c0.clone(), fp32 = c0.clone();
    serial.set_gemm_precision(Precision::bf16);
    serial.matmul(a, b, bf16, p.transpose_a, p.transpose_b, p.alpha, p.beta);
    serial.set_gemm_precision(Precision::fp32);
    serial.matmul(rounded(a), rounded(b), of_rounded, p.transpose_a, p.transpose_b, p.alpha, p.beta);
    serial.matmul(a, b, fp32, p.transpose_a, p.transpose_b, p.alpha, p.beta);
    EXPECT_TRUE(tensors_close(bf16, of_rounded, 0.0, 0.0)) << shape_string(p.a);
    // and not the fp32 product: the rounding is there.
    EXPECT_FALSE(tensors_close(bf16, fp32, 1e-6, 1e-6)) << shape_string(p.a);
  }
}

TEST(Bf16Matmul, CpuMatchesSerialOrIsRefusedWithoutBf16Hardware) {
  CpuBackend cpu(2);
  if (!cpu_has_bf16()) {
    try {
      cpu.set_gemm_precision(Precision::bf16);
      FAIL() << "bf16 accepted on a CPU without avx512_bf16 or AMX";
    } catch (const ConfigError& error) {
      EXPECT_NE(std::string(error.what()).find("needs a CPU with avx512_bf16 or AMX"),
                std::string::npos)
          << error.what();
    }
    GTEST_SKIP() << "this CPU has no avx512_bf16 or AMX: bf16 is refused, as checked";
  }
  SerialBackend serial;
  serial.set_gemm_precision(Precision::bf16);
  cpu.set_gemm_precision(Precision::bf16);
  for (const Product& p : products()) {
    const Tensor a = random_tensor(p.a, 4), b = random_tensor(p.b, 5);
    Tensor expected = random_tensor(output_shape(p), 6), actual = expected.clone();
    serial.matmul(a, b, expected, p.transpose_a, p.transpose_b, p.alpha, p.beta);
    cpu.matmul(a, b, actual, p.transpose_a, p.transpose_b, p.alpha, p.beta);
    // Products of bf16 values are exact in fp32; only the order of the fp32
    // sums differs from the oracle's double sums.
    EXPECT_TRUE(tensors_close(actual, expected, 1e-5, 1e-5)) << shape_string(p.a);
  }
}

TEST(Bf16Training, TwentyStepsOnTheCpuStayNearFp32AndKeepLearning) {
  if (!cpu_has_bf16()) GTEST_SKIP() << "this CPU has no avx512_bf16 or AMX";
  CpuBackend cpu(2);
  {
    SCOPED_TRACE("adding");
    expect_bf16_tracks_fp32(adding_losses(cpu, Precision::bf16, 20),
                            adding_losses(cpu, Precision::fp32, 20));
  }
  {
    SCOPED_TRACE("bert");
    expect_bf16_tracks_fp32(bert_losses(cpu, Precision::bf16, 20),
                            bert_losses(cpu, Precision::fp32, 20));
  }
}

}  // namespace
}  // namespace seqtrain::testing
