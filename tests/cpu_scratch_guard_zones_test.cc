// Guard zones around the cpu backend's scratch buffers
// (src/backends/cpu/scratch_buffer.h), turned on per backend for tests: a
// write one element past the count an op reserved, or before the buffer's
// start, fails naming the buffer and the function that reserved it, also
// while the buffer is bigger than that count; a backend with guards on runs
// its reductions clean.
#include <gtest/gtest.h>

#include <source_location>
#include <string>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/scratch_buffer.h"
#include "backends/serial/serial_backend.h"
#include "test_support.h"

namespace seqtrain::testing {
namespace {

using cpu::ScratchBuffer;
using cpu::ScratchGuards;

// The message of the InternalError that call throws, or "" if it throws none.
template <class Call>
std::string internal_error_message(Call call) {
  try {
    call();
  } catch (const InternalError& error) {
    return error.what();
  }
  return {};
}

TEST(CpuScratchGuards, AWriteOnePastTheReservedCountFailsNamingTheBufferAndItsUser) {
  ScratchBuffer scratch("test scratch", ScratchGuards::on);
  double* partials = scratch.reserve<double>(5, std::source_location::current());
  for (int i = 0; i < 5; ++i) partials[i] = i;
  EXPECT_EQ(internal_error_message([&] { scratch.check_guards(); }), "");
  partials[5] = 1.0;
  const std::string message = internal_error_message([&] { scratch.check_guards(); });
  EXPECT_NE(message.find("test scratch written outside what its user reserved: 8 guard bytes "
                         "changed, from 0 to 7 bytes past the end of the 40 bytes reserved by"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("AWriteOnePastTheReservedCount"), std::string::npos) << message;
  EXPECT_NE(message.find("cpu_scratch_guard_zones_test.cc:"), std::string::npos) << message;
  // Reported once.
  EXPECT_EQ(internal_error_message([&] { scratch.check_guards(); }), "");
}

TEST(CpuScratchGuards, AWriteBeforeTheStartIsCaughtAtTheNextReserve) {
  ScratchBuffer scratch("test scratch", ScratchGuards::on);
  float* values = scratch.reserve<float>(16, std::source_location::current());
  values[-1] = 1.0f;
  const std::string message =
      internal_error_message([&] { scratch.reserve<float>(16, std::source_location::current()); });
  EXPECT_NE(message.find("4 guard bytes changed, from 1 to 4 bytes before the start"),
            std::string::npos)
      << message;
}

TEST(CpuScratchGuards, ASmallerReserveIsGuardedAtItsOwnCountNotTheBuffersSize) {
  ScratchBuffer scratch("test scratch", ScratchGuards::on);
  scratch.reserve<float>(1000, std::source_location::current());
  float* values = scratch.reserve<float>(10, std::source_location::current());
  for (int i = 0; i < 10; ++i) values[i] = 0.0f;
  EXPECT_EQ(internal_error_message([&] { scratch.check_guards(); }), "");
  values[10] = 0.0f;
  EXPECT_NE(internal_error_message([&] {
              scratch.check_guards();
            }).find("from 0 to 3 bytes past the end of the 40 bytes reserved"),
            std::string::npos);
}

TEST(CpuScratchGuards, ABackendWithGuardsRunsItsReductionsClean) {
  CpuBackend cpu(2, ScratchGuards::on);
  SerialBackend serial;
  const Tensor x = random_tensor({300, 77}, 5);
  const Tensor dy = random_tensor({300, 77}, 6);
  Tensor bias_grad = Tensor::empty({77}, DType::f32), expected = bias_grad.clone();
  cpu.bias_grad(dy, bias_grad);
  serial.bias_grad(dy, expected);
  EXPECT_TRUE(tensors_close(bias_grad, expected, 1e-5, 1e-4));
  EXPECT_NEAR(cpu.sum_of_squares(x), serial.sum_of_squares(x), 1e-9 * serial.sum_of_squares(x));
  EXPECT_EQ(internal_error_message([&] { cpu.check_scratch_guards(); }), "");
}

}  // namespace
}  // namespace seqtrain::testing
