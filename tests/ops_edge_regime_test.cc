// The serial and cpu backends at the numerical edges of their ops, against
// independent long-double values (op_edge_regimes.h). The CUDA kernels get the
// same cases in kernels_edge_regime_test.cc.
#include <gtest/gtest.h>

#include "backends/cpu/cpu_backend.h"
#include "backends/serial/serial_backend.h"
#include "op_edge_regimes.h"

namespace seqtrain::testing {
namespace {

class SerialEdgeRegimes : public ::testing::TestWithParam<EdgeRegimeCase> {};

TEST_P(SerialEdgeRegimes, MatchIndependentValues) {
  SerialBackend serial;
  GetParam().check(serial);
}

INSTANTIATE_TEST_SUITE_P(AllRegimes, SerialEdgeRegimes, ::testing::ValuesIn(all_edge_regime_cases()),
                         [](const auto& info) { return info.param.name; });

class CpuEdgeRegimes : public ::testing::TestWithParam<EdgeRegimeCase> {};

TEST_P(CpuEdgeRegimes, MatchIndependentValues) {
  CpuBackend cpu(2, cpu::ScratchGuards::on);
  GetParam().check(cpu);
  cpu.check_scratch_guards();
}

INSTANTIATE_TEST_SUITE_P(AllRegimes, CpuEdgeRegimes, ::testing::ValuesIn(all_edge_regime_cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace seqtrain::testing
