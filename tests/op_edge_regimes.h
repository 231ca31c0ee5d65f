// Ops at the edges of their numerical range, on any backend, against values
// computed here in long double from the ops' formulas: not against the serial
// backend, which is itself under test (an rstd of 1/(sqrt(var) + eps) instead
// of 1/sqrt(var + eps) passed every backend comparison, since random inputs
// have a variance far above eps).
//
// The regimes:
//   layernorm    constant rows (variance 0), variance below, at and above eps
//                (1e-5 and BERT's 1e-12), tiny and large scales, a large
//                offset, and two rows worked out by hand
//   activations  sigmoid, tanh, gelu, relu, identity, into saturation (|x| up to 1e4)
//   lstm cell    one step with gate pre-activations of +-20 to +-100
//   softmax      logits of +-1e4 and rows of equal large logits
//   cross-ent.   the same logits, an ignored row, and a batch of ignored rows
//   attention    scores of magnitude ~100, a short key length and an
//                all-masked row (key length 0: zero context, lse -inf)
// Each check reports the worst element of each output it compares.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "seqtrain/backend.h"

namespace seqtrain::testing {

struct EdgeRegimeCase {
  std::string name;
  std::function<void(Backend&)> check;
};

std::vector<EdgeRegimeCase> all_edge_regime_cases();

}  // namespace seqtrain::testing
