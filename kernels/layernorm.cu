// Layer normalisation over the last axis of x [N, D] (rows r, columns j):
//
// Forward, per row (two passes over the row, both from cache after the first):
//   mean = sum_j x_j / D,  var = sum_j (x_j - mean)^2 / D,  rstd = 1 / sqrt(var + eps)
//   y_j = (x_j - mean) * rstd * gamma_j + beta_j;  mean and rstd saved [N]
// The two-pass variance avoids the cancellation of E[x^2] - mean^2 when |mean|
// is large against the spread.
//
// Backward, with xhat_j = (x_j - mean) * rstd and g_j = dy_j * gamma_j:
//   dx_j = rstd * (g_j - mean_k(g_k) - xhat_j * mean_k(g_k xhat_k))     per row
//   dgamma_j = sum_r dy_rj xhat_rj,  dbeta_j = sum_r dy_rj              per column
// The column sums are deterministic, without atomics, in two stages: partial
// sums over chunks of kLayernormChunkRows rows into the workspace, then one sum
// over the chunks per column. Every summation order is fixed by the shape.
//
// Launch geometry:
//   forward and backward dx: one warp per row, 4 rows per 128-thread block,
//     grid ceil(N / 4). Lane l handles columns l, l + 32, ...: each warp access
//     is 32 consecutive elements (coalesced); the row sums are warp butterflies,
//     so there are no block barriers and a warp past the last row simply exits.
//   column partials: blocks of 32 x 8 threads, grid (chunks, ceil(D / 32)).
//     Thread (x, y) sums column 32 * blockIdx.y + x over the chunk's rows y,
//     y + 8, ... (a warp reads 32 consecutive columns of a row); the 8 partial
//     sums meet in shared memory after one barrier.
//   column totals: blocks of 32 x 8 threads, grid ceil(D / 32), the same shape
//     over the chunks' partial sums.
// Bytes per call, with s = sizeof(Storage): forward reads N D s and writes
// N D s + 8 N (plus gamma and beta, 8 D); backward reads x and dy twice (dx
// kernel and column partials: 4 N D s) and writes N D s, plus 16 D chunks for
// the partials. About 8 FLOPs per element forward and 12 backward: memory bound.
#include "kernels/device_api.h"
#include "kernels/launch.h"
#include "kernels/layernorm.h"
#include "kernels/reduce.h"
#include "kernels/storage.h"

namespace seqtrain::kernels {

constexpr int kLayernormRowsPerBlock = 4;  // one warp per row
constexpr int kLayernormRowThreads = kLayernormRowsPerBlock * kWarpSize;
constexpr int kLayernormColumnTile = 32;  // columns per column-sum block: one warp wide
constexpr int kLayernormRowLanes = 8;     // rows summed side by side in a column-sum block
constexpr int kLayernormChunkRows = 64;   // rows per partial column sum
constexpr int kLayernormColumnThreads = kLayernormColumnTile * kLayernormRowLanes;

namespace {

std::int64_t chunk_count(std::int64_t rows) {
  return (rows + kLayernormChunkRows - 1) / kLayernormChunkRows;
}

}  // namespace

template <class Storage>
__global__ void __launch_bounds__(kLayernormRowThreads)
    layernorm_forward_kernel(const LayernormForwardArgs<Storage> args) {
  const std::int64_t row =
      static_cast<std::int64_t>(blockIdx.x) * kLayernormRowsPerBlock + threadIdx.x / kWarpSize;
  const int lane = static_cast<int>(threadIdx.x % kWarpSize);
  if (row >= args.rows) return;  // the whole warp: no barrier follows
  const std::int64_t D = args.columns;
  const Storage* x = args.x + row * D;
  float sum = 0.0f;
  for (std::int64_t j = lane; j < D; j += kWarpSize) sum += load_float(x + j);
  const float mean = warp_sum(sum) / static_cast<float>(D);
  float squares = 0.0f;
  for (std::int64_t j = lane; j < D; j += kWarpSize) {
    const float centred = load_float(x + j) - mean;
    squares += centred * centred;
  }
  const float rstd = rsqrtf(warp_sum(squares) / static_cast<float>(D) + args.epsilon);
  Storage* y = args.y + row * D;
  for (std::int64_t j = lane; j < D; j += kWarpSize)
    store_float(y + j, (load_float(x + j) - mean) * rstd * args.gamma[j] + args.beta[j]);
  if (lane == 0) {
    args.mean[row] = mean;
    args.rstd[row] = rstd;
  }
}

template <class Storage>
__global__ void __launch_bounds__(kLayernormRowThreads)
    layernorm_backward_dx_kernel(const LayernormBackwardArgs<Storage> args) {
  const std::int64_t row =
      static_cast<std::int64_t>(blockIdx.x) * kLayernormRowsPerBlock + threadIdx.x / kWarpSize;
  const int lane = static_cast<int>(threadIdx.x % kWarpSize);
  if (row >= args.rows) return;  // the whole warp: no barrier follows
  const std::int64_t D = args.columns;
  const Storage* x = args.x + row * D;
  const Storage* dy = args.dy + row * D;
  const float mean = args.mean[row], rstd = args.rstd[row];
  float g_sum = 0.0f, gx_sum = 0.0f;
  for (std::int64_t j = lane; j < D; j += kWarpSize) {
    const float g = load_float(dy + j) * args.gamma[j];
    g_sum += g;
    gx_sum += g * (load_float(x + j) - mean) * rstd;
  }
  const float g_mean = warp_sum(g_sum) / static_cast<float>(D);
  const float gx_mean = warp_sum(gx_sum) / static_cast<float>(D);
  Storage* dx = args.dx + row * D;
  for (std::int64_t j = lane; j < D; j += kWarpSize) {
    const float xhat = (load_float(x + j) - mean) * rstd;
    const float g = load_float(dy + j) * args.gamma[j];
    store_float(dx + j, rstd * (g - g_mean - xhat * gx_mean));
  }
}

// partials [2, chunks, D]: dgamma's partial sums, then dbeta's.
template <class Storage>
__global__ void __launch_bounds__(kLayernormColumnThreads)
    layernorm_column_partials_kernel(const LayernormBackwardArgs<Storage> args) {
  __shared__ float gamma_partial[kLayernormRowLanes][kLayernormColumnTile];
  __shared__ float beta_partial[kLayernormRowLanes][kLayernormColumnTile];
  const std::int64_t D = args.columns;
  const std::int64_t column =
      static_cast<std::int64_t>(blockIdx.y) * kLayernormColumnTile + threadIdx.x;
  const bool in_range = column < D;
  const std::int64_t first_row = static_cast<std::int64_t>(blockIdx.x) * kLayernormChunkRows;
  const std::int64_t end_row =
      first_row + kLayernormChunkRows < args.rows ? first_row + kLayernormChunkRows : args.rows;
  float gamma_sum = 0.0f, beta_sum = 0.0f;
  if (in_range)
    for (std::int64_t row = first_row + threadIdx.y; row < end_row; row += kLayernormRowLanes) {
      const float grad = load_float(args.dy + row * D + column);
      const float xhat = (load_float(args.x + row * D + column) - args.mean[row]) * args.rstd[row];
      gamma_sum += grad * xhat;
      beta_sum += grad;
    }
  gamma_partial[threadIdx.y][threadIdx.x] = gamma_sum;
  beta_partial[threadIdx.y][threadIdx.x] = beta_sum;
  __syncthreads();
  if (threadIdx.y == 0 && in_range) {
    float gamma_total = 0.0f, beta_total = 0.0f;
    SEQTRAIN_UNROLL
    for (int lane = 0; lane < kLayernormRowLanes; ++lane) {
      gamma_total += gamma_partial[lane][threadIdx.x];
      beta_total += beta_partial[lane][threadIdx.x];
    }
    auto* partials = static_cast<float*>(args.workspace);
    const std::int64_t chunks = gridDim.x, chunk = blockIdx.x;
    partials[chunk * D + column] = gamma_total;
    partials[(chunks + chunk) * D + column] = beta_total;
  }
}

template <class Storage>
__global__ void __launch_bounds__(kLayernormColumnThreads)
    layernorm_column_totals_kernel(const LayernormBackwardArgs<Storage> args, std::int64_t chunks) {
  __shared__ float gamma_partial[kLayernormRowLanes][kLayernormColumnTile];
  __shared__ float beta_partial[kLayernormRowLanes][kLayernormColumnTile];
  const std::int64_t D = args.columns;
  const std::int64_t column =
      static_cast<std::int64_t>(blockIdx.x) * kLayernormColumnTile + threadIdx.x;
  const bool in_range = column < D;
  const auto* partials = static_cast<const float*>(args.workspace);
  float gamma_sum = 0.0f, beta_sum = 0.0f;
  if (in_range)
    for (std::int64_t chunk = threadIdx.y; chunk < chunks; chunk += kLayernormRowLanes) {
      gamma_sum += partials[chunk * D + column];
      beta_sum += partials[(chunks + chunk) * D + column];
    }
  gamma_partial[threadIdx.y][threadIdx.x] = gamma_sum;
  beta_partial[threadIdx.y][threadIdx.x] = beta_sum;
  __syncthreads();
  if (threadIdx.y == 0 && in_range) {
    float gamma_total = 0.0f, beta_total = 0.0f;
    SEQTRAIN_UNROLL
    for (int lane = 0; lane < kLayernormRowLanes; ++lane) {
      gamma_total += gamma_partial[lane][threadIdx.x];
      beta_total += beta_partial[lane][threadIdx.x];
    }
    args.dgamma[column] = gamma_total;
    args.dbeta[column] = beta_total;
  }
}

std::size_t layernorm_backward_workspace_bytes(std::int64_t rows, std::int32_t columns) {
  return static_cast<std::size_t>(2 * chunk_count(rows) * columns) * sizeof(float);
}

namespace {

LaunchConfig row_geometry(std::int64_t rows, cudaStream_t stream) {
  const auto blocks =
      static_cast<unsigned>((rows + kLayernormRowsPerBlock - 1) / kLayernormRowsPerBlock);
  return {dim3(blocks), dim3(kLayernormRowThreads), 0, stream};
}

unsigned column_tiles(std::int32_t columns) {
  return static_cast<unsigned>((columns + kLayernormColumnTile - 1) / kLayernormColumnTile);
}

template <class Storage>
void launch_forward(const LayernormForwardArgs<Storage>& args, cudaStream_t stream) {
  if (args.rows == 0 || args.columns == 0) return;
  SEQTRAIN_LAUNCH(row_geometry(args.rows, stream), layernorm_forward_kernel<Storage>, args);
}

template <class Storage>
void launch_backward(const LayernormBackwardArgs<Storage>& args, cudaStream_t stream) {
  if (args.columns == 0) return;
  const std::int64_t chunks = chunk_count(args.rows);
  const dim3 column_block(kLayernormColumnTile, kLayernormRowLanes);
  if (args.rows > 0) {
    SEQTRAIN_LAUNCH(row_geometry(args.rows, stream), layernorm_backward_dx_kernel<Storage>, args);
    SEQTRAIN_LAUNCH((LaunchConfig{dim3(static_cast<unsigned>(chunks), column_tiles(args.columns)),
                                  column_block, 0, stream}),
                    layernorm_column_partials_kernel<Storage>, args);
  }
  // With no rows, chunks is 0 and the totals are zeros.
  SEQTRAIN_LAUNCH((LaunchConfig{dim3(column_tiles(args.columns)), column_block, 0, stream}),
                  layernorm_column_totals_kernel<Storage>, args, chunks);
}

}  // namespace

void layernorm_forward(const LayernormForwardArgs<float>& args, cudaStream_t stream) {
  launch_forward(args, stream);
}
void layernorm_forward(const LayernormForwardArgs<__nv_bfloat16>& args, cudaStream_t stream) {
  launch_forward(args, stream);
}
void layernorm_backward(const LayernormBackwardArgs<float>& args, cudaStream_t stream) {
  launch_backward(args, stream);
}
void layernorm_backward(const LayernormBackwardArgs<__nv_bfloat16>& args, cudaStream_t stream) {
  launch_backward(args, stream);
}

}  // namespace seqtrain::kernels
