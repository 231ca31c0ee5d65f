// The CUDA backend (its kernels on the emulated device) at the numerical edges
// of its ops, against independent long-double values: the cases of
// op_edge_regimes.h that ops_edge_regime_test.cc runs on serial and cpu.
#include <gtest/gtest.h>

#include "backends/cuda/cuda_backend.h"
#include "op_edge_regimes.h"

namespace seqtrain::testing {
namespace {

class CudaEdgeRegimes : public ::testing::TestWithParam<EdgeRegimeCase> {};

TEST_P(CudaEdgeRegimes, MatchIndependentValues) {
  CudaBackend cuda(0);
  GetParam().check(cuda);
}

INSTANTIATE_TEST_SUITE_P(AllRegimes, CudaEdgeRegimes, ::testing::ValuesIn(all_edge_regime_cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace seqtrain::testing
