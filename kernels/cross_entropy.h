// Host entry points of the softmax cross-entropy kernels
// (kernels/cross_entropy.cu, whose header has the formulas, launch geometry and
// costs), with the semantics of Backend::cross_entropy_forward/backward:
// logits [N, C] (float or __nv_bfloat16 storage, fp32 math), targets [N] int32;
// rows whose target is ignore_index do not count; the loss is the mean over the
// others (0 when every row is ignored).
//
// A target outside [0, C) that is not ignore_index is recorded in `bad_target`
// (kernels/bad_index.h: the smallest such row and its value), for the host to
// raise the DataError the CPU backends raise; the row is then treated as
// ignored. bad_target may be null (no report).
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace seqtrain::kernels {

template <class Storage>
struct CrossEntropyForwardArgs {
  std::int64_t rows = 0;     // N
  std::int32_t columns = 0;  // C, the classes
  std::int64_t ignore_index = -100;
  const Storage* logits = nullptr;        // [N, C]
  const std::int32_t* targets = nullptr;  // [N]
  float* loss = nullptr;                  // [1]
  float* log_sum_exp = nullptr;           // [N], saved for backward
  unsigned long long* bad_target = nullptr;
  // cross_entropy_forward_workspace_bytes(rows) bytes, 16-byte aligned; no
  // initialisation needed.
  void* workspace = nullptr;
};

// dlogits = dloss * (softmax(logits) - onehot(target)) / counted rows; zero rows
// for ignored targets.
template <class Storage>
struct CrossEntropyBackwardArgs {
  std::int64_t rows = 0;
  std::int32_t columns = 0;
  std::int64_t ignore_index = -100;
  const Storage* logits = nullptr;        // [N, C]
  const std::int32_t* targets = nullptr;  // [N]
  const float* log_sum_exp = nullptr;     // [N] from forward
  const float* dloss = nullptr;           // [1]
  Storage* dlogits = nullptr;             // [N, C]; may be logits (in place)
  // cross_entropy_backward_workspace_bytes() bytes, 16-byte aligned.
  void* workspace = nullptr;
};

std::size_t cross_entropy_forward_workspace_bytes(std::int64_t rows);
std::size_t cross_entropy_backward_workspace_bytes();

void cross_entropy_forward(const CrossEntropyForwardArgs<float>& args, cudaStream_t stream);
void cross_entropy_forward(const CrossEntropyForwardArgs<__nv_bfloat16>& args, cudaStream_t stream);
void cross_entropy_backward(const CrossEntropyBackwardArgs<float>& args, cudaStream_t stream);
void cross_entropy_backward(const CrossEntropyBackwardArgs<__nv_bfloat16>& args,
                            cudaStream_t stream);

}  // namespace seqtrain::kernels
