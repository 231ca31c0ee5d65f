// Softmax cross-entropy with an ignore index, over logits [N, C] and int32
// targets [N] (Backend::cross_entropy_forward/backward):
//   lse_r = log sum_j exp(logit_rj)                        (saved, every row)
//   loss  = sum_{r counted} (lse_r - logit_r,target_r) / count, 0 when count = 0
//   dlogit_rj = dloss * (exp(logit_rj - lse_r) - [j = target_r]) / count  (counted rows)
//   dlogit_rj = 0                                                          (other rows)
// A row counts when its target is not ignore_index and lies in [0, C); a target
// that is neither is reported through bad_target (kernels/bad_index.h).
//
// Forward, two launches, deterministic (no float atomics):
//   rows:  one 128-thread block per row. Each thread runs the online-softmax
//          recurrence (kernels/reduce.h) over columns tid, tid + 128, ...
//          (coalesced), the block merges the states in a fixed order, and
//          thread 0 writes lse_r and the row's loss (0 if not counted) to the
//          workspace. One read of the row: the vocabulary-wide rows of a
//          masked-LM decoder (C = 30522: 239 values per thread) are read once,
//          and the ~1000 masked rows of a batch give every SM several blocks.
//   loss:  one 256-thread block sums the N row losses and counts the rows in a
//          fixed order (thread i takes rows i, i + 256, ..., then a fixed tree),
//          in double, and writes the mean.
// Backward, two launches:
//   scale: one 256-thread block counts the rows and writes dloss / count.
//   dlogits: a 1-D grid over the N C elements, 256 threads per block, one
//          element each (coalesced; lse_r and target_r come from cache).
// Bytes per call, s = sizeof(Storage): forward reads N C s + 4 N and writes
// 12 N; backward reads N C s + 8 N and writes N C s. About 3 FLOPs and one exp
// per element each way: memory bound.
#include "kernels/bad_index.h"
#include "kernels/cross_entropy.h"
#include "kernels/device_api.h"
#include "kernels/launch.h"
#include "kernels/reduce.h"
#include "kernels/storage.h"

namespace seqtrain::kernels {

constexpr int kCrossEntropyRowThreads = 128;  // per row: 4 warps
constexpr int kCrossEntropyThreads = 256;     // the single-block reductions and dlogits

namespace {

__device__ __forceinline__ bool counted(std::int32_t target, std::int64_t ignore_index,
                                        std::int32_t columns) {
  return target != ignore_index && target >= 0 && target < columns;
}

}  // namespace

template <class Storage>
__global__ void __launch_bounds__(kCrossEntropyRowThreads)
    cross_entropy_rows_kernel(const CrossEntropyForwardArgs<Storage> args) {
  __shared__ float scratch[2 * kWarpSize];
  const std::int64_t row = blockIdx.x;
  const std::int64_t C = args.columns;
  const Storage* logits = args.logits + row * C;
  SoftmaxStatistics state;
  for (std::int64_t j = threadIdx.x; j < C; j += kCrossEntropyRowThreads)
    state = softmax_add(state, load_float(logits + j));
  state = block_softmax_statistics(state, scratch);
  if (threadIdx.x == 0) {
    const float lse = state.max + logf(state.sum);
    args.log_sum_exp[row] = lse;
    const std::int32_t target = args.targets[row];
    float row_loss = 0.0f;
    if (counted(target, args.ignore_index, args.columns))
      row_loss = lse - load_float(logits + target);
    else if (target != args.ignore_index && args.bad_target != nullptr)
      atomicMax(args.bad_target, encode_bad_index(row, target));
    static_cast<float*>(args.workspace)[row] = row_loss;
  }
}

template <class Storage>
__global__ void __launch_bounds__(kCrossEntropyThreads)
    cross_entropy_loss_kernel(const CrossEntropyForwardArgs<Storage> args) {
  __shared__ double scratch[kWarpSize];
  const auto* row_losses = static_cast<const float*>(args.workspace);
  double total = 0.0, count = 0.0;
  for (std::int64_t row = threadIdx.x; row < args.rows; row += kCrossEntropyThreads) {
    total += row_losses[row];
    count += counted(args.targets[row], args.ignore_index, args.columns) ? 1.0 : 0.0;
  }
  total = block_sum(total, scratch);
  count = block_sum(count, scratch);
  if (threadIdx.x == 0) args.loss[0] = count == 0.0 ? 0.0f : static_cast<float>(total / count);
}

template <class Storage>
__global__ void __launch_bounds__(kCrossEntropyThreads)
    cross_entropy_scale_kernel(const CrossEntropyBackwardArgs<Storage> args) {
  __shared__ int scratch[kWarpSize];
  int count = 0;
  for (std::int64_t row = threadIdx.x; row < args.rows; row += kCrossEntropyThreads)
    count += counted(args.targets[row], args.ignore_index, args.columns) ? 1 : 0;
  count = block_sum(count, scratch);
  if (threadIdx.x == 0)
    *static_cast<float*>(args.workspace) =
        count == 0 ? 0.0f : args.dloss[0] / static_cast<float>(count);
}

template <class Storage>
__global__ void __launch_bounds__(kCrossEntropyThreads)
    cross_entropy_backward_kernel(const CrossEntropyBackwardArgs<Storage> args) {
  const std::int64_t C = args.columns;
  const std::int64_t index = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index >= args.rows * C) return;
  const std::int64_t row = index / C, column = index % C;
  const std::int32_t target = args.targets[row];
  float grad = 0.0f;
  if (counted(target, args.ignore_index, args.columns)) {
    const float probability = expf(load_float(args.logits + index) - args.log_sum_exp[row]);
    grad = (probability - (column == target ? 1.0f : 0.0f)) *
           *static_cast<const float*>(args.workspace);
  }
  store_float(args.dlogits + index, grad);
}

std::size_t cross_entropy_forward_workspace_bytes(std::int64_t rows) {
  return static_cast<std::size_t>(rows) * sizeof(float);
}

std::size_t cross_entropy_backward_workspace_bytes() {
  return sizeof(float);
}

namespace {

template <class Storage>
void launch_forward(const CrossEntropyForwardArgs<Storage>& args, cudaStream_t stream) {
  const LaunchConfig single_block{dim3(1), dim3(kCrossEntropyThreads), 0, stream};
  if (args.rows > 0 && args.columns > 0)
    SEQTRAIN_LAUNCH((LaunchConfig{dim3(static_cast<unsigned>(args.rows)),
                                  dim3(kCrossEntropyRowThreads), 0, stream}),
                    cross_entropy_rows_kernel<Storage>, args);
  // With no rows (or classes) nothing counts: the loss is 0.
  CrossEntropyForwardArgs<Storage> loss_args = args;
  if (args.columns == 0) loss_args.rows = 0;
  SEQTRAIN_LAUNCH(single_block, cross_entropy_loss_kernel<Storage>, loss_args);
}

template <class Storage>
void launch_backward(const CrossEntropyBackwardArgs<Storage>& args, cudaStream_t stream) {
  const std::int64_t elements = args.rows * args.columns;
  if (elements == 0) return;
  SEQTRAIN_LAUNCH((LaunchConfig{dim3(1), dim3(kCrossEntropyThreads), 0, stream}),
                  cross_entropy_scale_kernel<Storage>, args);
  const auto blocks =
      static_cast<unsigned>((elements + kCrossEntropyThreads - 1) / kCrossEntropyThreads);
  SEQTRAIN_LAUNCH((LaunchConfig{dim3(blocks), dim3(kCrossEntropyThreads), 0, stream}),
                  cross_entropy_backward_kernel<Storage>, args);
}

}  // namespace

void cross_entropy_forward(const CrossEntropyForwardArgs<float>& args, cudaStream_t stream) {
  launch_forward(args, stream);
}
void cross_entropy_forward(const CrossEntropyForwardArgs<__nv_bfloat16>& args,
                           cudaStream_t stream) {
  launch_forward(args, stream);
}
void cross_entropy_backward(const CrossEntropyBackwardArgs<float>& args, cudaStream_t stream) {
  launch_backward(args, stream);
}
void cross_entropy_backward(const CrossEntropyBackwardArgs<__nv_bfloat16>& args,
                            cudaStream_t stream) {
  launch_backward(args, stream);
}

}  // namespace seqtrain::kernels
