// Softmax over the last axis of x [N, C], forward and backward:
//   y_j = exp(x_j - m) / s,  m = max_k x_k,  s = sum_k exp(x_k - m)
//   dx_j = y_j * (dy_j - sum_k dy_k y_k)
// Forward finds m and s in one pass with the online-softmax recurrence
// (kernels/reduce.h: each lane keeps a running max and a sum rescaled whenever
// the max grows; the lanes' states merge in a butterfly), then writes y in a
// second pass: two reads and one write of the row instead of three reads. Values
// of -inf (masked positions) get probability 0; a row that is all -inf gives
// NaN, as in the serial backend.
//
// Launch geometry: one warp per row, 4 rows per 128-thread block, grid
// ceil(N / 4). Lane l handles columns l, l + 32, ... (coalesced), so rows of
// any length work and reductions are warp butterflies: no shared memory, no
// block barriers, and a warp past the last row simply exits. Meant for rows up
// to a few thousand columns (attention-sized); a vocabulary-wide row is better
// served by a block per row (cross_entropy.cu).
// Bytes per call, s = sizeof(Storage): forward reads 2 N C s (the second read
// mostly from cache) and writes N C s; backward reads 2 N C s twice (y, dy) and
// writes N C s. About 5 FLOPs and one exp per element: memory bound.
#include "kernels/device_api.h"
#include "kernels/launch.h"
#include "kernels/reduce.h"
#include "kernels/softmax.h"
#include "kernels/storage.h"

namespace seqtrain::kernels {

constexpr int kSoftmaxRowsPerBlock = 4;  // one warp per row
constexpr int kSoftmaxThreads = kSoftmaxRowsPerBlock * kWarpSize;

template <class Storage>
__global__ void __launch_bounds__(kSoftmaxThreads)
    softmax_forward_kernel(const SoftmaxForwardArgs<Storage> args) {
  const std::int64_t row =
      static_cast<std::int64_t>(blockIdx.x) * kSoftmaxRowsPerBlock + threadIdx.x / kWarpSize;
  const int lane = static_cast<int>(threadIdx.x % kWarpSize);
  if (row >= args.rows) return;  // the whole warp: no barrier follows
  const std::int64_t C = args.columns;
  const Storage* x = args.x + row * C;
  SoftmaxStatistics state;
  for (std::int64_t j = lane; j < C; j += kWarpSize) state = softmax_add(state, load_float(x + j));
  state = warp_softmax_statistics(state);
  const float inverse_sum = 1.0f / state.sum;
  Storage* y = args.y + row * C;
  for (std::int64_t j = lane; j < C; j += kWarpSize)
    store_float(y + j, expf(load_float(x + j) - state.max) * inverse_sum);
}

template <class Storage>
__global__ void __launch_bounds__(kSoftmaxThreads)
    softmax_backward_kernel(const SoftmaxBackwardArgs<Storage> args) {
  const std::int64_t row =
      static_cast<std::int64_t>(blockIdx.x) * kSoftmaxRowsPerBlock + threadIdx.x / kWarpSize;
  const int lane = static_cast<int>(threadIdx.x % kWarpSize);
  if (row >= args.rows) return;  // the whole warp: no barrier follows
  const std::int64_t C = args.columns;
  const Storage* y = args.y + row * C;
  const Storage* dy = args.dy + row * C;
  float dot = 0.0f;
  for (std::int64_t j = lane; j < C; j += kWarpSize) dot += load_float(dy + j) * load_float(y + j);
  dot = warp_sum(dot);
  Storage* dx = args.dx + row * C;
  for (std::int64_t j = lane; j < C; j += kWarpSize)
    store_float(dx + j, load_float(y + j) * (load_float(dy + j) - dot));
}

namespace {

LaunchConfig softmax_geometry(std::int64_t rows, cudaStream_t stream) {
  const auto blocks =
      static_cast<unsigned>((rows + kSoftmaxRowsPerBlock - 1) / kSoftmaxRowsPerBlock);
  return {dim3(blocks), dim3(kSoftmaxThreads), 0, stream};
}

template <class Storage>
void launch_forward(const SoftmaxForwardArgs<Storage>& args, cudaStream_t stream) {
  if (args.rows == 0 || args.columns == 0) return;
  SEQTRAIN_LAUNCH(softmax_geometry(args.rows, stream), softmax_forward_kernel<Storage>, args);
}

template <class Storage>
void launch_backward(const SoftmaxBackwardArgs<Storage>& args, cudaStream_t stream) {
  if (args.rows == 0 || args.columns == 0) return;
  SEQTRAIN_LAUNCH(softmax_geometry(args.rows, stream), softmax_backward_kernel<Storage>, args);
}

}  // namespace

void softmax_forward(const SoftmaxForwardArgs<float>& args, cudaStream_t stream) {
  launch_forward(args, stream);
}
void softmax_forward(const SoftmaxForwardArgs<__nv_bfloat16>& args, cudaStream_t stream) {
  launch_forward(args, stream);
}
void softmax_backward(const SoftmaxBackwardArgs<float>& args, cudaStream_t stream) {
  launch_backward(args, stream);
}
void softmax_backward(const SoftmaxBackwardArgs<__nv_bfloat16>& args, cudaStream_t stream) {
  launch_backward(args, stream);
}

}  // namespace seqtrain::kernels
