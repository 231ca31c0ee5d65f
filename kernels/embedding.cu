// Embedding lookup and its gradient, for a table [V, D], ids [N] (int32) and
// rows [N, D] of float or bf16 (s bytes per element):
//
//   forward   out[i, j] = table[ids[i], j]       N D s reads + N D s writes + 4 N
//   backward  dtable = 0; dtable[ids[i], j] += dout[i, j]
//                                                4 V D (zero fill) + N D s reads
//                                                + N D atomic read-modify-writes of
//                                                4 bytes (in L2), N D FLOPs
// Both are pure data movement: memory bound everywhere.
//
// Launch geometry (both): 256 threads per block, one warp per id: warp w of
// block b handles i = 8 b + w, its lanes copy (or add) columns lane, lane + 32,
// ... of the row. Each warp reads one table row and writes one output row, 32
// consecutive elements per instruction; the id is read once per lane (one
// broadcast transaction). Grid ceil(N / 8). D that is not a multiple of 32
// leaves lanes idle in the last column step (D = 37: 37 of 64 lane slots busy):
// acceptable for a gather that moves whole rows.
//
// Bad ids (outside [0, V)): forward writes a zero row, never reads the table
// with the id, and records (i, id) in the flag with one atomicMax (lane 0), so
// the flag names the smallest bad position (kernels/bad_index.h). Backward
// skips them.
//
// Determinism: the backward's atomicAdd makes the summation order of a
// repeated id depend on scheduling. A fixed order needs the ids sorted (one
// segment per vocabulary row, summed by one block in position order); that is
// a radix sort (cub) plus a segmented reduction, which the emulation cannot run
// and which costs more than the scatter for the batch sizes we train on. The
// differences are a few ulps of a gradient row per step.
#include <algorithm>
#include <stdexcept>

#include "kernels/device_api.h"
#include "kernels/embedding.h"
#include "kernels/launch.h"
#include "kernels/storage.h"

namespace seqtrain::kernels {

constexpr int kEmbeddingThreads = 256;
constexpr int kEmbeddingRowsPerBlock = kEmbeddingThreads / 32;  // one warp per id
constexpr int kEmbeddingZeroThreads = 256;
constexpr std::int64_t kEmbeddingZeroMaxBlocks = 1024;

template <class Storage>
__global__ void __launch_bounds__(kEmbeddingThreads)
    embedding_forward_kernel(const EmbeddingForwardArgs<Storage> args) {
  const std::int64_t i =
      static_cast<std::int64_t>(blockIdx.x) * kEmbeddingRowsPerBlock + threadIdx.x / 32;
  const unsigned lane = threadIdx.x % 32;
  if (i >= args.count) return;
  const std::int64_t width = args.width;
  const std::int32_t id = args.ids[i];
  Storage* out = args.out + i * width;
  if (id < 0 || id >= args.vocabulary) {
    if (lane == 0) atomicMax(args.bad_id, encode_bad_index(i, id));
    for (std::int64_t j = lane; j < width; j += 32) store_float(out + j, 0.0f);
    return;
  }
  const Storage* row = args.table + static_cast<std::int64_t>(id) * width;
  for (std::int64_t j = lane; j < width; j += 32) out[j] = row[j];
}

template <class Storage>
__global__ void __launch_bounds__(kEmbeddingThreads)
    embedding_backward_kernel(const EmbeddingBackwardArgs<Storage> args) {
  const std::int64_t i =
      static_cast<std::int64_t>(blockIdx.x) * kEmbeddingRowsPerBlock + threadIdx.x / 32;
  const unsigned lane = threadIdx.x % 32;
  if (i >= args.count) return;
  const std::int32_t id = args.ids[i];
  if (id < 0 || id >= args.vocabulary) return;
  const std::int64_t width = args.width;
  const Storage* gradient = args.dout + i * width;
  float* row = args.dtable + static_cast<std::int64_t>(id) * width;
  for (std::int64_t j = lane; j < width; j += 32) atomicAdd(row + j, load_float(gradient + j));
}

__global__ void __launch_bounds__(kEmbeddingZeroThreads)
    embedding_zero_kernel(float* values, const std::int64_t count) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += stride)
    values[i] = 0.0f;
}

namespace {

LaunchConfig row_geometry(std::int64_t count, cudaStream_t stream) {
  if (count >= kMaxIndexedPositions)
    throw std::length_error("embedding: more ids than the bad-id flag can name");
  const auto blocks =
      static_cast<unsigned>((count + kEmbeddingRowsPerBlock - 1) / kEmbeddingRowsPerBlock);
  return {dim3(blocks), dim3(kEmbeddingThreads), 0, stream};
}

template <class Storage>
void launch_embedding_forward(const EmbeddingForwardArgs<Storage>& args, cudaStream_t stream) {
  if (args.count <= 0 || args.width <= 0) return;
  SEQTRAIN_LAUNCH(row_geometry(args.count, stream), embedding_forward_kernel<Storage>, args);
}

template <class Storage>
void launch_embedding_backward(const EmbeddingBackwardArgs<Storage>& args, cudaStream_t stream) {
  const std::int64_t table_size = static_cast<std::int64_t>(args.vocabulary) * args.width;
  if (table_size <= 0) return;
  const std::int64_t zero_blocks = std::min(
      (table_size + kEmbeddingZeroThreads - 1) / kEmbeddingZeroThreads, kEmbeddingZeroMaxBlocks);
  SEQTRAIN_LAUNCH((LaunchConfig{dim3(static_cast<unsigned>(zero_blocks)),
                                dim3(kEmbeddingZeroThreads), 0, stream}),
                  embedding_zero_kernel, args.dtable, table_size);
  if (args.count <= 0) return;
  SEQTRAIN_LAUNCH(row_geometry(args.count, stream), embedding_backward_kernel<Storage>, args);
}

}  // namespace

void embedding_forward(const EmbeddingForwardArgs<float>& args, cudaStream_t stream) {
  launch_embedding_forward(args, stream);
}
void embedding_forward(const EmbeddingForwardArgs<__nv_bfloat16>& args, cudaStream_t stream) {
  launch_embedding_forward(args, stream);
}
void embedding_backward(const EmbeddingBackwardArgs<float>& args, cudaStream_t stream) {
  launch_embedding_backward(args, stream);
}
void embedding_backward(const EmbeddingBackwardArgs<__nv_bfloat16>& args, cudaStream_t stream) {
  launch_embedding_backward(args, stream);
}

}  // namespace seqtrain::kernels
