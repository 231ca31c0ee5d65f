#include "train/gradient_buckets.h"

#include <algorithm>
#include <memory>

#include "seqtrain/error.h"

namespace seqtrain {

GradientBuckets::GradientBuckets(ParameterStore& parameters, std::int64_t bucket_bytes,
                                 Communicator& communicator)
    : communicator_(communicator) {
  SEQTRAIN_CHECK(bucket_bytes > 0, "gradient buckets of {} bytes", bucket_bytes);
  const Device memory = communicator.memory();
  const auto& all = parameters.all();
  std::int64_t filled = 0;
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    Parameter& parameter = **it;
    SEQTRAIN_CHECK(parameter.grad.device() == memory && parameter.grad.dtype() == DType::f32,
                   "data parallel: {} gradients on the {} device, and a communicator ({}) on "
                   "{} memory",
                   dtype_name(parameter.grad.dtype()), device_name(parameter.grad.device()),
                   communicator.describe(), device_name(memory));
    const std::int64_t bytes = parameter.grad.numel() * static_cast<std::int64_t>(sizeof(float));
    if (buckets_.empty() || (filled > 0 && filled + bytes > bucket_bytes)) {
      buckets_.emplace_back();
      filled = 0;
    }
    buckets_.back().parameters.push_back(&parameter);
    filled += bytes;
  }
  for (Bucket& bucket : buckets_) {
    if (memory == Device::cpu) {
      std::size_t size = 0;
      for (const Parameter* parameter : bucket.parameters)
        size += static_cast<std::size_t>(parameter->grad.numel());
      bucket.flat.resize(size);
    } else {
      for (Parameter* parameter : bucket.parameters)
        bucket.gradients.push_back(parameter->grad.span<float>());
    }
  }
}

void GradientBuckets::all_reduce() {
  std::vector<std::unique_ptr<PendingReduction>> pending;
  pending.reserve(buckets_.size());
  const bool packed = communicator_.memory() == Device::cpu;
  for (Bucket& bucket : buckets_) {
    if (!packed) {
      pending.push_back(communicator_.start_all_reduce_sum_list(bucket.gradients));
      continue;
    }
    float* out = bucket.flat.data();
    for (Parameter* parameter : bucket.parameters) {
      const auto grad = parameter->grad.span<float>();
      out = std::copy(grad.begin(), grad.end(), out);
    }
    pending.push_back(communicator_.start_all_reduce_sum(bucket.flat));
  }
  for (std::size_t b = 0; b < buckets_.size(); ++b) {
    pending[b]->wait();
    if (!packed) continue;
    const float* in = buckets_[b].flat.data();
    for (Parameter* parameter : buckets_[b].parameters) {
      auto grad = parameter->grad.span<float>();
      std::copy_n(in, grad.size(), grad.begin());
      in += grad.size();
    }
  }
}

}  // namespace seqtrain
