#include "train/gradient_buckets.h"

#include <algorithm>
#include <memory>

#include "seqtrain/error.h"

namespace seqtrain {

GradientBuckets::GradientBuckets(ParameterStore& parameters, std::int64_t bucket_bytes) {
  SEQTRAIN_CHECK(bucket_bytes > 0, "gradient buckets of {} bytes", bucket_bytes);
  const auto& all = parameters.all();
  std::int64_t filled = 0;
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    Parameter& parameter = **it;
    SEQTRAIN_CHECK(parameter.grad.device() == Device::cpu && parameter.grad.dtype() == DType::f32,
                   "data parallel on a {} backend needs its own collectives",
                   device_name(parameter.grad.device()));
    const std::int64_t bytes = parameter.grad.numel() * static_cast<std::int64_t>(sizeof(float));
    if (buckets_.empty() || (filled > 0 && filled + bytes > bucket_bytes)) {
      buckets_.emplace_back();
      filled = 0;
    }
    buckets_.back().parameters.push_back(&parameter);
    filled += bytes;
  }
  for (Bucket& bucket : buckets_) {
    std::size_t size = 0;
    for (const Parameter* parameter : bucket.parameters)
      size += static_cast<std::size_t>(parameter->grad.numel());
    bucket.flat.resize(size);
  }
}

void GradientBuckets::all_reduce(Communicator& communicator) {
  std::vector<std::unique_ptr<PendingReduction>> pending;
  pending.reserve(buckets_.size());
  for (Bucket& bucket : buckets_) {
    float* out = bucket.flat.data();
    for (Parameter* parameter : bucket.parameters) {
      const auto grad = parameter->grad.span<float>();
      out = std::copy(grad.begin(), grad.end(), out);
    }
    pending.push_back(communicator.start_all_reduce_sum(bucket.flat));
  }
  for (std::size_t b = 0; b < buckets_.size(); ++b) {
    pending[b]->wait();
    const float* in = buckets_[b].flat.data();
    for (Parameter* parameter : buckets_[b].parameters) {
      auto grad = parameter->grad.span<float>();
      std::copy_n(in, grad.size(), grad.begin());
      in += grad.size();
    }
  }
}

}  // namespace seqtrain
