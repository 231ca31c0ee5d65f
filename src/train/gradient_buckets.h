// Gradient buckets for data parallel: the parameters' gradients summed over
// the ranks in a few large all-reduces instead of one per parameter.
//
// Parameters are taken in reverse registration order (the order backward
// finishes them: the last layers first) and grouped into buckets of at most
// bucket_bytes of fp32 gradients; a parameter larger than that is a bucket of
// its own. all_reduce starts every bucket's all-reduce before it waits for the
// first, so bucket k is on the wire while bucket k + 1 is prepared. How a
// bucket travels depends on where the communicator's buffers lie
// (Communicator::memory):
//   host memory (MPI)  the gradients are packed into one flat buffer per
//                      bucket (Communicator::start_all_reduce_sum) and
//                      unpacked when it is summed: one message per bucket;
//   a device (NCCL)    the gradients are summed in place on the device, the
//                      bucket's list of device buffers in one call
//                      (Communicator::start_all_reduce_sum_list: one NCCL
//                      group); nothing goes through host memory.
// The flat buffers are allocated once, so a step allocates nothing.
//
// Not overlapped with backward: the graph accumulates every parameter's
// gradient in nodes appended after all of backward (graph/autodiff.cc), so no
// bucket is final before backward ends (docs/distributed.md).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "dist/communicator.h"
#include "seqtrain/parameters.h"

namespace seqtrain {

class GradientBuckets {
 public:
  // communicator (which must outlive the buckets) sums the gradients; its
  // memory must be where parameters' gradients lie, or an error says so.
  GradientBuckets(ParameterStore& parameters, std::int64_t bucket_bytes,
                  Communicator& communicator);

  // Every parameter's gradient becomes its sum over the ranks.
  void all_reduce();

  std::size_t bucket_count() const { return buckets_.size(); }

 private:
  struct Bucket {
    std::vector<Parameter*> parameters;
    std::vector<float> flat;                  // host memory: the gradients, one after another
    std::vector<std::span<float>> gradients;  // device memory: each gradient where it lies
  };
  Communicator& communicator_;
  std::vector<Bucket> buckets_;
};

}  // namespace seqtrain
