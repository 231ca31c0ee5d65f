// Gradient buckets for data parallel: the parameters' gradients (host memory:
// the serial and cpu backends) summed over the ranks in a few large
// all-reduces instead of one per parameter.
//
// Parameters are taken in reverse registration order (the order backward
// finishes them: the last layers first) and grouped into buckets of at most
// bucket_bytes of fp32 gradients; a parameter larger than that is a bucket of
// its own. all_reduce packs each bucket into its flat buffer and starts its
// all-reduce (Communicator::start_all_reduce_sum), so bucket k is on the wire
// while bucket k + 1 is packed; then it waits for each and unpacks it. The
// buffers are allocated once, so a step allocates nothing.
//
// Not overlapped with backward: the graph accumulates every parameter's
// gradient in nodes appended after all of backward (graph/autodiff.cc), so no
// bucket is final before backward ends (docs/distributed.md).
#pragma once

#include <cstdint>
#include <vector>

#include "dist/communicator.h"
#include "seqtrain/parameters.h"

namespace seqtrain {

class GradientBuckets {
 public:
  GradientBuckets(ParameterStore& parameters, std::int64_t bucket_bytes);

  // Every parameter's gradient becomes its sum over the ranks.
  void all_reduce(Communicator& communicator);

  std::size_t bucket_count() const { return buckets_.size(); }

 private:
  struct Bucket {
    std::vector<Parameter*> parameters;
    std::vector<float> flat;  // the parameters' gradients, one after another
  };
  std::vector<Bucket> buckets_;
};

}  // namespace seqtrain
