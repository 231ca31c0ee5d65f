// Causal attention against PyTorch: scripts/make_attention_reference.py ran
// torch.nn.functional.scaled_dot_product_attention (is_causal=True, and the
// causal mask combined with key padding) in float64 on fixed inputs and wrote
// the context, log-sum-exp and the gradient of sum(dcontext * context) with
// respect to qkv. Here the attention op with causal on runs on the serial and
// cpu backends and each tensor is compared (the cpu backend runs the kernels
// of SEQTRAIN_CPU_ISA, the widest by default: run once with
// SEQTRAIN_CPU_ISA=avx2 as well to cover both variants).
#include <cmath>
#include <string>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/cpu_isa.h"
#include "backends/serial/serial_backend.h"
#include "io/safetensors.h"
#include "test_support.h"

namespace seqtrain::testing {
namespace {

// The reference is float64 stored as float32; serial sums in double, cpu in
// float (its largest error here is about 1e-6 at magnitudes near 1).
constexpr double kTolerance = 1e-5;

struct Fixture {
  SafetensorsContents contents;
  const Tensor& tensor(const std::string& name) const {
    auto found = contents.tensors.find(name);
    if (found == contents.tensors.end())
      throw std::runtime_error("fixture has no tensor '" + name + "'");
    return found->second;
  }
};

const Fixture& fixture() {
  static const Fixture loaded{
      read_safetensors(std::string(SEQTRAIN_FIXTURES) + "/attention_reference_causal.safetensors")};
  return loaded;
}

void expect_matches_pytorch(Backend& backend, const std::string& case_name) {
  SCOPED_TRACE(backend.name() + " " + case_name);
  const Fixture& f = fixture();
  const Tensor& qkv = f.tensor("qkv");
  const Tensor& lengths = f.tensor(case_name + ".lengths");
  const Tensor& expected_context = f.tensor(case_name + ".context");
  Tensor context = Tensor::empty(expected_context.shape());
  Tensor log_sum_exp = Tensor::empty(f.tensor(case_name + ".log_sum_exp").shape());
  Tensor dqkv = Tensor::empty(qkv.shape());
  backend.attention_forward(qkv, lengths, true, {}, context, log_sum_exp);
  backend.attention_backward(qkv, lengths, true, context, log_sum_exp, f.tensor("dcontext"), {},
                             dqkv);
  EXPECT_TRUE(tensors_close(context, expected_context, kTolerance, kTolerance)) << "context";
  EXPECT_TRUE(
      tensors_close(log_sum_exp, f.tensor(case_name + ".log_sum_exp"), kTolerance, kTolerance))
      << "log_sum_exp";
  EXPECT_TRUE(tensors_close(dqkv, f.tensor(case_name + ".dqkv"), kTolerance, kTolerance)) << "dqkv";
}

TEST(AttentionReference, CausalMatchesPyTorchScaledDotProductAttention) {
  const Fixture& f = fixture();
  ASSERT_EQ(f.contents.metadata.at("steps"), "37");
  // The fixture's cases differ: padding changes the answer (the check has teeth).
  EXPECT_FALSE(
      tensors_close(f.tensor("causal.context"), f.tensor("causal_padded.context"), 1e-3, 0.0));
  SerialBackend serial;
  for (const std::string case_name : {"causal", "causal_padded"}) {
    expect_matches_pytorch(serial, case_name);
    CpuBackend cpu(2, cpu::ScratchGuards::on);
    SCOPED_TRACE(cpu::cpu_isa_name(cpu.isa()));
    expect_matches_pytorch(cpu, case_name);
    cpu.check_scratch_guards();
  }
}

}  // namespace
}  // namespace seqtrain::testing
