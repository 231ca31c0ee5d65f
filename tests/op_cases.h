// Small graphs, one or two per op, on shapes that are not multiples of any tile.
#pragma once

#include <string>
#include <vector>

#include "test_support.h"

namespace seqtrain::testing {

struct OpCase {
  std::string name;
  GraphCase graph_case;
};

std::vector<OpCase> all_op_cases();

}  // namespace seqtrain::testing
