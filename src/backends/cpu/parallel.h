// How the cpu backend spreads loops over its OpenMP pool, and how it sums in
// parallel without the result depending on the number of threads.
//
// Determinism: every reduction here splits its input into blocks whose size
// depends only on the input's shape (never on the thread count), sums each
// block in a fixed order, then combines the block sums in block order. So a
// loss, a bias gradient or a gradient norm is bit-identical at 1, 2 or 64
// threads. Within a row or block, the vectorised summation order depends only
// on the data's alignment, which the 64-byte aligned tensors and arena slots
// fix per shape. (oneDNN's GEMMs are the exception: they may split K
// differently per thread count; they are repeatable for a fixed thread count
// and CPU.) Element-wise ops compute each element alone, so any split agrees.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>

namespace seqtrain::cpu {

// Below this many float elements per thread, streaming work (~10 us) does not
// pay for waking the pool (~1-2 us), so it stays on the calling thread.
inline constexpr std::int64_t kElementGrain = 16384;

// Rows per parallel piece so a piece streams about kElementGrain elements.
inline std::int64_t row_grain(std::int64_t width) {
  return std::max<std::int64_t>(1, kElementGrain / std::max<std::int64_t>(width, 1));
}

// Elements per block of a deterministic sum over a flat tensor.
inline constexpr std::int64_t kSumBlock = 16384;

// Runs body(begin, end) on at most `threads` contiguous pieces of [0, count),
// each at least `grain` items long, so small loops stay on the calling thread.
// Piece boundaries are multiples of `align` (alignment of vector loads, or
// whole cache lines between threads). body must not throw: an exception
// cannot leave an OpenMP region, so validate inputs before the loop.
template <class Body>
void parallel_for(int threads, std::int64_t count, std::int64_t grain, const Body& body,
                  std::int64_t align = 1) {
  if (count <= 0) return;
  const std::int64_t pieces =
      std::clamp<std::int64_t>(count / std::max<std::int64_t>(grain, 1), 1, threads);
  if (pieces == 1) {
    body(std::int64_t{0}, count);
    return;
  }
  auto boundary = [&](std::int64_t piece) {
    return piece == pieces ? count : count * piece / pieces / align * align;
  };
#pragma omp parallel num_threads(static_cast <int>(pieces))
  {
    // A nested or capped team may be smaller than asked: each thread takes
    // every team-th piece.
    const std::int64_t team = omp_get_num_threads();
    for (std::int64_t piece = omp_get_thread_num(); piece < pieces; piece += team) {
      const std::int64_t begin = boundary(piece), end = boundary(piece + 1);
      if (begin < end) body(begin, end);
    }
  }
}

// Rows per block of a column reduction over `rows` rows: at most 64 blocks of
// at least `minimum` rows. A function of the shape alone.
inline std::int64_t reduction_row_block(std::int64_t rows, std::int64_t minimum) {
  return std::max<std::int64_t>(minimum, (rows + 63) / 64);
}

// sum over blocks b = 0, 1, ... of block_sum(begin_b, end_b), blocks of kSumBlock
// items, combined in block order. partials must hold ceil(count / kSumBlock).
template <class BlockSum>
double deterministic_sum(int threads, std::int64_t count, double* partials,
                         const BlockSum& block_sum) {
  const std::int64_t blocks = (count + kSumBlock - 1) / kSumBlock;
  // One compiled copy of the block loop for the calling thread and the pool:
  // two inlined copies (parallel_for's serial path and its OpenMP region) may
  // be vectorised differently (another remainder loop), and a block's sum
  // would then round differently at 1 and 2 threads.
  const auto sum_blocks = [&](std::int64_t first, std::int64_t last) __attribute__((noinline)) {
    for (std::int64_t block = first; block < last; ++block)
      partials[block] = block_sum(block * kSumBlock, std::min(count, (block + 1) * kSumBlock));
  };
  parallel_for(threads, blocks, kElementGrain / kSumBlock, sum_blocks);
  double total = 0.0;
  for (std::int64_t block = 0; block < blocks; ++block) total += partials[block];
  return total;
}

// columns[j] = sum over row blocks of partials[block * width + j], added in
// block order, as floats. Accumulates into the first block's row of partials.
inline void combine_column_partials(int threads, double* partials, std::int64_t blocks,
                                    std::int64_t width, float* columns) {
  parallel_for(
      threads, width, kElementGrain / std::max<std::int64_t>(blocks, 1),
      [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t block = 1; block < blocks; ++block) {
          const double* block_row = partials + block * width;
          for (std::int64_t j = begin; j < end; ++j) partials[j] += block_row[j];
        }
        for (std::int64_t j = begin; j < end; ++j) columns[j] = static_cast<float>(partials[j]);
      },
      8);
}

}  // namespace seqtrain::cpu
