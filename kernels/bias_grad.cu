// Bias gradient: bias_grad[c] = sum over r of dy[r, c], for dy [rows, columns]
// (fp32 or bf16 storage, fp32 sums), deterministic and without atomics.
//
// Launch geometry: one block of 32 x 8 threads per tile of 32 columns (grid
// ceil(columns / 32)). Thread (x, y) sums column tile*32 + x over the rows
// y, y + 8, y + 16, ... in increasing order; a warp (fixed y) reads 32
// consecutive columns of one row, so every load is one coalesced 128-byte
// segment (64 for bf16). The 8 partial sums meet in shared memory after one
// barrier and threads y = 0 add them in order y = 0..7. The summation order
// depends only on the shape, never on scheduling, so repeated runs agree bit
// for bit, which atomicAdd into bias_grad would not.
//
// This is one pass over dy; with few columns (under ~100 tiles) it uses a
// fraction of the GPU, which is acceptable for a once-per-backward reduction.
#include "kernels/bias_grad.h"
#include "kernels/device_api.h"
#include "kernels/launch.h"
#include "kernels/storage.h"

namespace seqtrain::kernels {

constexpr int kBiasGradColumns = 32;  // columns per block: one warp wide
constexpr int kBiasGradRowLanes = 8;  // rows summed side by side
constexpr int kBiasGradThreads = kBiasGradColumns * kBiasGradRowLanes;

template <class Storage>
__global__ void __launch_bounds__(kBiasGradThreads)
    bias_grad_kernel(const BiasGradArgs<Storage> args) {
  __shared__ float partial[kBiasGradRowLanes][kBiasGradColumns];
  const std::int64_t column =
      static_cast<std::int64_t>(blockIdx.x) * kBiasGradColumns + threadIdx.x;
  const bool in_range = column < args.columns;
  float sum = 0.0f;
  if (in_range)
    for (std::int64_t row = threadIdx.y; row < args.rows; row += kBiasGradRowLanes)
      sum += load_float(args.dy + row * args.columns + column);
  partial[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y == 0 && in_range) {
    float total = 0.0f;
    SEQTRAIN_UNROLL
    for (int lane = 0; lane < kBiasGradRowLanes; ++lane) total += partial[lane][threadIdx.x];
    args.bias_grad[column] = total;
  }
}

namespace {

template <class Storage>
void launch_bias_grad(const BiasGradArgs<Storage>& args, cudaStream_t stream) {
  if (args.columns == 0) return;
  const LaunchConfig config{
      dim3(static_cast<unsigned>((args.columns + kBiasGradColumns - 1) / kBiasGradColumns)),
      dim3(kBiasGradColumns, kBiasGradRowLanes), 0, stream};
  SEQTRAIN_LAUNCH(config, bias_grad_kernel<Storage>, args);
}

}  // namespace

void bias_grad(const BiasGradArgs<float>& args, cudaStream_t stream) {
  launch_bias_grad(args, stream);
}
void bias_grad(const BiasGradArgs<__nv_bfloat16>& args, cudaStream_t stream) {
  launch_bias_grad(args, stream);
}

}  // namespace seqtrain::kernels
