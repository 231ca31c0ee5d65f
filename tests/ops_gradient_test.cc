// Every op's gradient against central finite differences on the serial backend,
// on odd shapes. The same cases are the cpu backend's equivalence tests
// (ops_backend_test.cc), so they live in op_cases.h.
#include "op_cases.h"

namespace seqtrain::testing {
namespace {

class OpGradient : public ::testing::TestWithParam<OpCase> {};

TEST_P(OpGradient, MatchesFiniteDifferences) {
  expect_gradients_match_finite_differences(GetParam().graph_case);
}

INSTANTIATE_TEST_SUITE_P(AllOps, OpGradient, ::testing::ValuesIn(all_op_cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace seqtrain::testing
