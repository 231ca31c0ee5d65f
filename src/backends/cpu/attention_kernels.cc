// Multi-head self-attention on the cpu backend: FlashAttention-2's tiling on
// the CPU, built once per vector ISA (cpu_variant.h; attention.cc picks one). Formulas and layouts are those of Backend::attention_forward
// (seqtrain/backend.h); backends/serial/attention.cc is the plain version.
//
// Work: one (batch, head) per task, spread over the pool with a dynamic
// schedule (sequences of different length cost different amounts). A task
// packs its head once into per-thread scratch the backend keeps: K^T [d, L']
// in panels of 16 keys for the score products (V^T too, for backward), V (and
// for backward K) as [L', d'] rows,
// d' = d rounded up to the kernel's column block, L' = L rounded up likewise,
// zero padded. Then:
//
// Forward, per tile of 64 queries, online softmax over tiles of 512 keys
// (j < L only; for L <= 512 one tile, so m and l are a plain max and sum):
//   S = (scale Q) K^T                          64 x 512 scores, the only T x T part
//   m' = max(m, rowmax S), P = exp(S - m'), l = l exp(m - m') + rowsum P,
//   O = O exp(m - m') + (P * Z) V              (Z: dropout factors)
//   then o_i = O_i / l_i, lse_i = m_i + log l_i.
// Backward (FlashAttention-2), tiles of 128 queries outer, tiles of 64 keys
// inner:
//   D_i = dO_i . o_i;   P = exp(S - lse), recomputed from the saved lse
//   dPz = dO V^T,  dS = P * (Z dPz - D)
//   dV += (P Z)^T dO,  dK += dS^T (scale Q),  dQ += dS K   (dQ scaled at the end)
// dK and dV of the head accumulate in scratch over the query tiles; dQ of a
// query tile is complete after its key loop. Nothing is T x T.
//
// Causal (query i sees keys j <= i): a query tile [first, first + rows) stops
// its key loop at key first + rows, so the tiles above the diagonal are never
// computed (forward and backward do about half the work at large T); inside
// the diagonal tile the entries j > i get P = 0 and dS = 0.
//
// The products are register-blocked micro-kernels (6 rows x 2 vectors of
// accumulators, operand A broadcast element by element with any strides, so
// P^T and dS^T need no transposed copies). Tails: any number of rows (kernels
// for 1 to 6), key columns padded to the 2-vector block with zero keys whose
// scores are never read, depths exact.
//
// Memory: token rows of a head are d floats kilobytes apart, so the packing
// and write-out loops prefetch a dozen rows ahead. Dropout factors are drawn
// per score tile row (philox4x32_batch), never stored. Packed buffers have
// row strides of an odd number of cache lines (conflict_free_stride), so the
// rows a kernel walks down spread over the L1 sets. Scratch per thread:
// 6 L' d' floats for the head plus three 128 x d' tiles, three 128 x 64
// tiles and a 64 x 512 one (1.4 MB at T 512, d 64).
//
// When there are fewer (batch, head) pairs than threads, forward splits the
// query tiles of a head over tasks, and backward runs in two passes: dK and dV
// per (head, key tile), then dQ per (head, query tile), with the same tile
// arithmetic in the same order. Every output element is computed by one task
// in a fixed order, so results do not depend on the thread count.
#include <omp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "backends/cpu/attention_kernels.h"
#include "seqtrain/rng.h"
// Last: what follows is the variant's own code (cpu_variant.h).
#include "backends/cpu/float_vector.h"
#include "backends/cpu/philox_batch.h"
#include "backends/cpu/vector_math.h"

namespace seqtrain::cpu {
inline namespace SEQTRAIN_CPU_VARIANT {
namespace {


constexpr std::int64_t kKernelRows = 6;
constexpr std::int64_t kKernelColumns = 2 * kFloatLanes;
// 128 queries per tile: every query tile streams the head's packed K and V
// (and dK, dV) once, and dK, dV accumulate over its 128 rows per pass; at
// T 512 this measured 10% faster than 64 (256 was no better).
constexpr std::int64_t kQueryTile = 128;
constexpr std::int64_t kKeyTile = 64;
static_assert(kKeyTile % kKernelColumns == 0);
// Forward tiles: 64 queries against up to 512 keys, so for T <= 512 a row's
// softmax statistics are one max and one sum over all its keys (no running
// rescale of O), and P V runs over the whole key range per kernel call. The
// 64 x 512 score tile (135 KB) stays in L2 beside the head's K^T and V.
constexpr std::int64_t kForwardQueryTile = 64;
constexpr std::int64_t kForwardKeyTile = 512;
static_assert(kForwardKeyTile % kKernelColumns == 0 && kForwardQueryTile <= kQueryTile);
// Keys per P V kernel call: its 16-column strip of V (256 rows) stays in L1.
constexpr std::int64_t kValueDepth = 256;

constexpr std::int64_t round_up(std::int64_t x, std::int64_t multiple) {
  return (x + multiple - 1) / multiple * multiple;
}

// Floats between rows of a packed buffer of `columns` columns: whole cache
// lines (16 floats), an odd number of them. With a power-of-two stride (64
// floats at d 64, 512 at T 512) the rows a kernel walks down map to a few L1
// sets, and a 16-column strip of B (64 to 128 rows) no longer fits in L1.
constexpr std::int64_t conflict_free_stride(std::int64_t columns) {
  const std::int64_t stride = round_up(columns, 16);
  return stride / 16 % 2 == 0 ? stride + 16 : stride;
}

constexpr std::int64_t kScoreStride = conflict_free_stride(kKeyTile);
constexpr std::int64_t kForwardScoreStride = conflict_free_stride(kForwardKeyTile);

std::int64_t ceil_div(std::int64_t x, std::int64_t y) {
  return (x + y - 1) / y;
}

// ---- tile products ----------------------------------------------------------

// C[r, 0 : kKernelColumns] (+)= sum_k A(r, k) B[k, 0 : kKernelColumns] for
// r < Rows, with A(r, k) = a[r * a_row + k * a_depth] and B's rows ldb apart.
// 6 x 2 vectors of accumulators: with AVX2's 16 registers, 12 accumulators,
// 2 rows of B and one broadcast; 8 loads per 12 multiply-adds.
template <int Rows, bool Accumulate>
void kernel_block(std::int64_t depth, const float* a, std::int64_t a_row, std::int64_t a_depth,
                  const float* b, std::int64_t ldb, float* c, std::int64_t ldc) {
  // The unroll pragmas let g++ keep acc in registers (without them it spills
  // the array to the stack on every iteration).
  FloatVector acc[Rows][2];
#pragma GCC unroll 8
  for (int r = 0; r < Rows; ++r) {
    acc[r][0] = Accumulate ? cpu::load_floats(c + r * ldc) : FloatVector{};
    acc[r][1] = Accumulate ? cpu::load_floats(c + r * ldc + kFloatLanes) : FloatVector{};
  }
  // Unrolled by 4: the loop's counter and address updates otherwise take
  // issue slots from the multiply-adds (5-15% faster in a microbenchmark of
  // this kernel on L1-resident tiles).
#pragma GCC unroll 4
  for (std::int64_t k = 0; k < depth; ++k) {
    const FloatVector b0 = cpu::load_floats(b + k * ldb);
    const FloatVector b1 = cpu::load_floats(b + k * ldb + kFloatLanes);
#pragma GCC unroll 8
    for (int r = 0; r < Rows; ++r) {
      const FloatVector x = cpu::broadcast_float(a + r * a_row + k * a_depth);
      acc[r][0] = cpu::fused_multiply_add(x, b0, acc[r][0]);
      acc[r][1] = cpu::fused_multiply_add(x, b1, acc[r][1]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < Rows; ++r) {
    cpu::store_floats(c + r * ldc, acc[r][0]);
    cpu::store_floats(c + r * ldc + kFloatLanes, acc[r][1]);
  }
}

template <bool Accumulate>
void kernel_rows(std::int64_t rows, std::int64_t depth, const float* a, std::int64_t a_row,
                 std::int64_t a_depth, const float* b, std::int64_t ldb, float* c,
                 std::int64_t ldc) {
  switch (rows) {
    case 6: return kernel_block<6, Accumulate>(depth, a, a_row, a_depth, b, ldb, c, ldc);
    case 5: return kernel_block<5, Accumulate>(depth, a, a_row, a_depth, b, ldb, c, ldc);
    case 4: return kernel_block<4, Accumulate>(depth, a, a_row, a_depth, b, ldb, c, ldc);
    case 3: return kernel_block<3, Accumulate>(depth, a, a_row, a_depth, b, ldb, c, ldc);
    case 2: return kernel_block<2, Accumulate>(depth, a, a_row, a_depth, b, ldb, c, ldc);
    default: return kernel_block<1, Accumulate>(depth, a, a_row, a_depth, b, ldb, c, ldc);
  }
}

// Rows of the next kernel call when `left` rows remain: 6, except that the
// last 7 or 8 rows go as 4 + 3 or 4 + 4. A 1- or 2-row kernel has 2 or 4
// accumulators, too few to cover the FMA latency (it runs at a quarter or
// half of the rate), and 128 = 21 x 6 + 2 is the common tile.
constexpr std::int64_t kernel_block_rows(std::int64_t left) {
  return left == 7 || left == 8 ? 4 : std::min(kKernelRows, left);
}

// C[rows, columns] (+)= A B, A(r, k) as in kernel_block, B [depth, columns]
// in blocks of kKernelColumns columns b_block floats apart, rows ldb apart
// within a block (row-major B: b_block = kKernelColumns; pack_transposed's
// panels: b_block = 16 depth, ldb = 16), C with rows ldc apart. columns is a
// multiple of kKernelColumns (callers pad); any rows. Column blocks are outer so a block
// of B (depth x kKernelColumns) stays in L1 across the rows. Each element of
// C is the same k-ordered chain of multiply-adds whatever block it falls in.
void multiply_tiles(std::int64_t rows, std::int64_t columns, std::int64_t depth, const float* a,
                    std::int64_t a_row, std::int64_t a_depth, const float* b, std::int64_t ldb,
                    std::int64_t b_block, float* c, std::int64_t ldc, bool accumulate) {
  for (std::int64_t column = 0; column < columns; column += kKernelColumns)
    for (std::int64_t row = 0, block = 0; row < rows; row += block) {
      block = kernel_block_rows(rows - row);
      if (accumulate)
        kernel_rows<true>(block, depth, a + row * a_row, a_row, a_depth,
                          b + column / kKernelColumns * b_block, ldb, c + row * ldc + column, ldc);
      else
        kernel_rows<false>(block, depth, a + row * a_row, a_row, a_depth,
                           b + column / kKernelColumns * b_block, ldb, c + row * ldc + column, ldc);
    }
}

// ---- dropout ----------------------------------------------------------------

// factors[j] = dropout factor of probability element first + j, j < count
// (the element's uniform is word index & 3 of Philox block index >> 2). Whole
// groups of 8 blocks (32 elements) go through philox4x32_batch; the ragged
// ends of the range through philox4x32.
void dropout_factors(const AttentionDropout& dropout, std::uint64_t first, std::int64_t count,
                     float* factors) {
  constexpr std::uint64_t kGroup = 4 * cpu::kPhiloxLanes;
  const float keep_scale = 1.0f / (1.0f - dropout.probability);
  const float probability = dropout.probability;
  const std::uint64_t counter_base = dropout.step << 40;
  first += dropout.first_index;  // a data-parallel rank's rows of the global batch
  std::uint64_t index = first;
  const std::uint64_t end = first + static_cast<std::uint64_t>(count);
  auto scalar_until = [&](std::uint64_t stop) {
    while (index < stop) {
      const std::array<std::uint32_t, 4> bits =
          philox4x32(dropout.seed, dropout.stream, counter_base | (index >> 2));
      for (std::uint64_t lane = index & 3; lane < 4 && index < stop; ++lane, ++index)
        factors[index - first] = bits_to_uniform(bits[lane]) >= probability ? keep_scale : 0.0f;
    }
  };
  scalar_until(std::min(end, (index + 3) / 4 * 4));
  std::uint32_t words[4][cpu::kPhiloxLanes];
  for (; index + kGroup <= end; index += kGroup) {
    cpu::philox4x32_batch(dropout.seed, dropout.stream, counter_base | (index >> 2), words);
    float* out = factors + (index - first);
    for (int block = 0; block < cpu::kPhiloxLanes; ++block)
      for (int word = 0; word < 4; ++word)
        out[4 * block + word] =
            bits_to_uniform(words[word][block]) >= probability ? keep_scale : 0.0f;
  }
  scalar_until(end);
}

// ---- problem geometry and scratch -------------------------------------------

struct Geometry {
  std::int64_t batch, steps, heads, head_dim;
  std::int64_t padded_dim;     // d' (columns of packed rows)
  std::int64_t padded_steps;   // L' for L = T: the most packed keys
  std::int64_t packed_stride;  // floats between rows of the [*, d'] buffers
  std::int64_t row_stride;     // floats between tokens in qkv
  std::int64_t hidden;         // heads * d: floats between tokens in context
  float scale;                 // 1 / sqrt(d)

  std::int64_t query_tiles() const { return ceil_div(steps, kQueryTile); }
  std::int64_t forward_query_tiles() const { return ceil_div(steps, kForwardQueryTile); }
  std::int64_t key_tiles() const { return ceil_div(steps, kKeyTile); }
  // Flat index of probability (b, h, i, 0), for the dropout draws.
  std::uint64_t probability_row(std::int64_t b, std::int64_t h, std::int64_t i) const {
    return static_cast<std::uint64_t>(((b * heads + h) * steps + i) * steps);
  }
};

Geometry attention_geometry(const AttentionProblem& p) {
  Geometry g{p.batch, p.steps, p.heads, p.head_dim, 0, 0, 0, 0, 0, 0.0f};
  g.padded_dim = round_up(g.head_dim, kKernelColumns);
  g.padded_steps = round_up(g.steps, kKernelColumns);
  g.packed_stride = conflict_free_stride(g.padded_dim);
  g.row_stride = 3 * g.heads * g.head_dim;
  g.hidden = g.heads * g.head_dim;
  g.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(g.head_dim)));
  return g;
}

// One thread's slice of the backend's scratch, carved into named buffers.
struct HeadScratch {
  float* key_t;           // [d, L'] K^T in 16-key panels (pack_transposed)
  float* key;             // [L', d'] K (backward)
  float* value;           // [L', d'] V
  float* value_t;         // [d, L'] V^T in 16-key panels (backward)
  float* dkey;            // [L', d'] dK of the head (backward)
  float* dvalue;          // [L', d'] dV of the head (backward)
  float* query;           // [query tile, d'] scale * Q of one query tile
  float* dout;            // [query tile, d'] dO of the tile (backward)
  float* accumulator;     // [query tile, d'] O (forward) or dQ / scale (backward)
  float* scores;          // [forward query tile, forward key tile] S, then P (forward)
  float* probabilities;   // [query tile, key tile] S, then P (backward)
  float* dprobabilities;  // [query tile, key tile] dO V^T, then dS (backward)
  float* dropped;         // [query tile, key tile] P * Z (backward with dropout)
  float* factors;         // [forward key tile] dropout factors of one row of a tile
  float* row_first;       // [query tile] running max (forward) or lse (backward)
  float* row_second;      // [query tile] running sum (forward) or D (backward)
};

std::int64_t head_scratch_floats(const Geometry& g) {
  // [L', d'] rows or [d, L'] transposed, either with its stride.
  const std::int64_t head = conflict_free_stride(g.padded_steps) * g.packed_stride;
  const std::int64_t tile = kQueryTile * g.packed_stride;
  return 6 * head + 3 * tile + kForwardQueryTile * kForwardScoreStride +
         3 * kQueryTile * kScoreStride + 2 * kQueryTile + kForwardKeyTile;
}

HeadScratch carve_head_scratch(float* slice, const Geometry& g) {
  // [L', d'] rows or [d, L'] transposed, either with its stride.
  const std::int64_t head = conflict_free_stride(g.padded_steps) * g.packed_stride;
  const std::int64_t tile = kQueryTile * g.packed_stride;
  HeadScratch s;
  float* next = slice;
  auto take = [&](std::int64_t count) {
    float* buffer = next;
    next += count;
    return buffer;
  };
  s.key_t = take(head);
  s.key = take(head);
  s.value = take(head);
  s.value_t = take(head);
  s.dkey = take(head);
  s.dvalue = take(head);
  s.query = take(tile);
  s.dout = take(tile);
  s.accumulator = take(tile);
  s.scores = take(kForwardQueryTile * kForwardScoreStride);
  s.probabilities = take(kQueryTile * kScoreStride);
  s.dprobabilities = take(kQueryTile * kScoreStride);
  s.dropped = take(kQueryTile * kScoreStride);
  s.factors = take(kForwardKeyTile);
  s.row_first = take(kQueryTile);
  s.row_second = take(kQueryTile);
  return s;
}

// ---- packing ----------------------------------------------------------------

// Token rows of qkv, context and the gradients are kilobytes apart and a head
// touches d floats of each, out of the hardware prefetcher's reach (it stays
// within a page), so each row would be a demand miss from memory. Loops over
// token rows prefetch the row kPrefetchAhead tokens further on.
constexpr std::int64_t kPrefetchAhead = 12;

void prefetch_for_read(const float* x, std::int64_t count) {
  for (std::int64_t i = 0; i < count; i += 16) __builtin_prefetch(x + i, 0);
}

void prefetch_for_write(float* x, std::int64_t count) {
  for (std::int64_t i = 0; i < count; i += 16) __builtin_prefetch(x + i, 1);
}

// Which third of a qkv row: 0 queries, 1 keys, 2 values.
const float* qkv_slot(const float* qkv, const Geometry& g, std::int64_t b, std::int64_t t, int slot,
                      std::int64_t h) {
  return qkv + (b * g.steps + t) * g.row_stride + slot * g.hidden + h * g.head_dim;
}

// count rows x d' from x_{first + r} * scale, zero beyond d.
void pack_rows(const float* qkv, const Geometry& g, std::int64_t b, std::int64_t h, int slot,
               std::int64_t first, std::int64_t count, float scale, float* target) {
  const std::int64_t d = g.head_dim, dp = g.padded_dim;
  for (std::int64_t r = 0; r < count; ++r) {
    if (first + r + kPrefetchAhead < g.steps)
      prefetch_for_read(qkv_slot(qkv, g, b, first + r + kPrefetchAhead, slot, h), d);
    float* row = target + r * g.packed_stride;
    const float* source = qkv_slot(qkv, g, b, first + r, slot, h);
    for (std::int64_t c = 0; c < d; ++c) row[c] = source[c] * scale;
    for (std::int64_t c = d; c < dp; ++c) row[c] = 0.0f;
  }
}

// [d, padded] transposed, in panels of kKernelColumns tokens: the panel of
// tokens [16 p, 16 p + 16) is d x 16 contiguous floats, so
// target[p * 16 d + c * 16 + j % 16] = x_j[c] for j = 16 p + j % 16, zero for
// count <= j < padded (padded is a multiple of 16). A kernel's B strip is then
// one contiguous 4 KB panel (at d 64) instead of d rows a whole transposed
// row apart (33 pages at T 512); measured ~10% less time at T 512 (two
// interleaved rounds on a loaded machine).
// Blocks of 8 tokens x 8 dimensions go through registers (transpose_8x8).
void pack_transposed(const float* qkv, const Geometry& g, std::int64_t b, std::int64_t h, int slot,
                     std::int64_t count, std::int64_t padded, float* target) {
  constexpr std::int64_t kBlock = 8;
  static_assert(kKernelColumns % kBlock == 0);
  const std::int64_t d = g.head_dim;
  auto at = [&](std::int64_t c, std::int64_t j) {
    return target + j / kKernelColumns * d * kKernelColumns + c * kKernelColumns +
           j % kKernelColumns;
  };
  std::int64_t j = 0;
  for (; j + kBlock <= count; j += kBlock) {
    const float* source[kBlock];
    for (std::int64_t u = 0; u < kBlock; ++u) {
      source[u] = qkv_slot(qkv, g, b, j + u, slot, h);
      if (j + u + 2 * kBlock < count)
        prefetch_for_read(qkv_slot(qkv, g, b, j + u + 2 * kBlock, slot, h), d);
    }
    std::int64_t c = 0;
    for (; c + kBlock <= d; c += kBlock) cpu::transpose_8x8(source, c, at(c, j), kKernelColumns);
    for (; c < d; ++c)
      for (std::int64_t u = 0; u < kBlock; ++u) *at(c, j + u) = source[u][c];
  }
  for (; j < count; ++j) {
    const float* source = qkv_slot(qkv, g, b, j, slot, h);
    for (std::int64_t c = 0; c < d; ++c) *at(c, j) = source[c];
  }
  for (std::int64_t c = 0; c < d; ++c)
    for (std::int64_t k = count; k < padded; ++k) *at(c, k) = 0.0f;
}

// count rows x d' of head h of a [B, T, heads * d] tensor (dcontext) from
// token first on, zero beyond d.
void pack_tile(const float* x, const Geometry& g, std::int64_t b, std::int64_t h,
               std::int64_t first, std::int64_t count, float* target) {
  const std::int64_t d = g.head_dim, dp = g.padded_dim;
  for (std::int64_t r = 0; r < count; ++r) {
    if (first + r + kPrefetchAhead < g.steps)
      prefetch_for_read(x + (b * g.steps + first + r + kPrefetchAhead) * g.hidden + h * d, d);
    float* row = target + r * g.packed_stride;
    const float* source = x + (b * g.steps + first + r) * g.hidden + h * d;
    for (std::int64_t c = 0; c < d; ++c) row[c] = source[c];
    for (std::int64_t c = d; c < dp; ++c) row[c] = 0.0f;
  }
}

// ---- forward ----------------------------------------------------------------

struct ForwardTask {
  std::int64_t b, h, first_tile, last_tile;  // query tiles [first_tile, last_tile)
};

void forward_task(const ForwardTask& task, const Geometry& g, const float* qkv,
                  const std::int32_t* key_lengths, bool causal, const AttentionDropout& dropout,
                  HeadScratch& s, float* context, float* log_sum_exp) {
  const std::int64_t b = task.b, h = task.h, d = g.head_dim, dp = g.padded_dim;
  const std::int64_t ps = g.packed_stride;
  const std::int64_t length = key_lengths[b];
  const std::int64_t padded_length = round_up(length, kKernelColumns);
  const std::int64_t panel = d * kKernelColumns;  // floats per K^T panel
  const bool drop = dropout.probability > 0.0f;
  if (length > 0) {
    pack_transposed(qkv, g, b, h, 1, length, padded_length, s.key_t);
    pack_rows(qkv, g, b, h, 2, 0, length, 1.0f, s.value);
  }
  for (std::int64_t tile = task.first_tile; tile < task.last_tile; ++tile) {
    const std::int64_t first = tile * kForwardQueryTile;
    const std::int64_t rows = std::min(kForwardQueryTile, g.steps - first);
    float* lse_out = log_sum_exp + (b * g.heads + h) * g.steps + first;
    if (length == 0) {
      for (std::int64_t r = 0; r < rows; ++r) {
        std::memset(context + (b * g.steps + first + r) * g.hidden + h * d, 0,
                    static_cast<std::size_t>(d) * sizeof(float));
        lse_out[r] = -std::numeric_limits<float>::infinity();
      }
      continue;
    }
    pack_rows(qkv, g, b, h, 0, first, rows, g.scale, s.query);
    float* row_max = s.row_first;
    float* row_sum = s.row_second;
    for (std::int64_t r = 0; r < rows; ++r) {
      row_max[r] = -std::numeric_limits<float>::infinity();
      row_sum[r] = 0.0f;
    }
    // Causal: no query of the tile sees a key at or past first + rows, so the
    // key tiles from there on are never computed (half the work at large T).
    const std::int64_t key_end = causal ? std::min(length, first + rows) : length;
    for (std::int64_t key = 0; key < key_end; key += kForwardKeyTile) {
      const std::int64_t keys = std::min(kForwardKeyTile, key_end - key);
      const std::int64_t padded_keys = round_up(keys, kKernelColumns);
      float* scores = s.scores;
      multiply_tiles(rows, padded_keys, d, s.query, ps, 1, s.key_t + key * d, kKernelColumns, panel,
                     scores, kForwardScoreStride, false);
      for (std::int64_t r = 0; r < rows; ++r) {
        float* row = scores + r * kForwardScoreStride;
        // Causal: query first + r sees the tile's keys j < visible; the rest
        // get probability 0. The first tile holds key 0, so visible >= 1 there
        // and row_max is finite from then on.
        const std::int64_t visible =
            causal ? std::clamp<std::int64_t>(first + r + 1 - key, 0, keys) : keys;
        const float tile_max =
            visible > 0 ? cpu::maximum_of(row, visible) : -std::numeric_limits<float>::infinity();
        const float new_max = std::max(row_max[r], tile_max);
        // exp(-inf) on the first tile: fast_exp clamps and returns 0.
        const float correction = cpu::fast_exp(row_max[r] - new_max);
        float tile_sum = 0.0f;
#pragma omp simd reduction(+ : tile_sum)
        for (std::int64_t j = 0; j < visible; ++j) {
          row[j] = cpu::fast_exp(row[j] - new_max);
          tile_sum += row[j];
        }
        for (std::int64_t j = visible; j < keys; ++j) row[j] = 0.0f;
        row_sum[r] = row_sum[r] * correction + tile_sum;
        row_max[r] = new_max;
        if (key > 0 && correction != 1.0f) {  // the first tile writes O, below
          float* out = s.accumulator + r * ps;
#pragma omp simd
          for (std::int64_t c = 0; c < dp; ++c) out[c] *= correction;
        }
        if (drop) {
          dropout_factors(dropout, g.probability_row(b, h, first + r) + key, keys, s.factors);
#pragma omp simd
          for (std::int64_t j = 0; j < keys; ++j) row[j] *= s.factors[j];
        }
      }
      for (std::int64_t part = 0; part < keys; part += kValueDepth)
        multiply_tiles(rows, dp, std::min(kValueDepth, keys - part), scores + part,
                       kForwardScoreStride, 1, s.value + (key + part) * ps, ps, kKernelColumns,
                       s.accumulator, ps, key + part > 0);
    }
    for (std::int64_t r = 0; r < rows; ++r) {
      if (first + r + kPrefetchAhead < g.steps)
        prefetch_for_write(context + (b * g.steps + first + r + kPrefetchAhead) * g.hidden + h * d,
                           d);
      const float inverse = 1.0f / row_sum[r];
      const float* out = s.accumulator + r * ps;
      float* target = context + (b * g.steps + first + r) * g.hidden + h * d;
#pragma omp simd
      for (std::int64_t c = 0; c < d; ++c) target[c] = out[c] * inverse;
      lse_out[r] = row_max[r] + std::log(row_sum[r]);
    }
  }
}

// ---- backward ---------------------------------------------------------------

struct BackwardTask {
  std::int64_t b, h;
  std::int64_t first_query_tile, last_query_tile;
  std::int64_t first_key_tile, last_key_tile;
  bool key_grads;    // write dK, dV of the keys in the key tiles
  bool query_grads;  // write dQ of the queries in the query tiles
};

struct BackwardTensors {
  const float* qkv;
  const std::int32_t* key_lengths;
  const float* context;
  const float* log_sum_exp;
  const float* dcontext;
  float* dqkv;
};

void backward_task(const BackwardTask& task, const Geometry& g, const BackwardTensors& t,
                   bool causal, const AttentionDropout& dropout, HeadScratch& s) {
  const std::int64_t b = task.b, h = task.h, d = g.head_dim, dp = g.padded_dim;
  const std::int64_t ps = g.packed_stride;
  const std::int64_t length = t.key_lengths[b];
  const std::int64_t padded_length = round_up(length, kKernelColumns);
  const std::int64_t panel = d * kKernelColumns;  // floats per K^T or V^T panel
  const bool drop = dropout.probability > 0.0f;
  const std::int64_t first_key = task.first_key_tile * kKeyTile;
  const std::int64_t end_key = std::min(task.last_key_tile * kKeyTile, g.steps);
  if (length > 0) {
    pack_transposed(t.qkv, g, b, h, 1, length, padded_length, s.key_t);
    pack_transposed(t.qkv, g, b, h, 2, length, padded_length, s.value_t);
    if (task.query_grads) pack_rows(t.qkv, g, b, h, 1, 0, length, 1.0f, s.key);
  }
  // Causal: a key tile's first visitor is not the task's first query tile
  // (queries before the key never see it), so dK and dV start at zero and
  // every query tile accumulates.
  if (causal && task.key_grads && first_key < length) {
    const std::size_t bytes =
        static_cast<std::size_t>((std::min(end_key, length) - first_key) * ps) * sizeof(float);
    std::memset(s.dkey + first_key * ps, 0, bytes);
    std::memset(s.dvalue + first_key * ps, 0, bytes);
  }
  for (std::int64_t tile = task.first_query_tile; tile < task.last_query_tile; ++tile) {
    const std::int64_t first = tile * kQueryTile;
    const std::int64_t rows = std::min(kQueryTile, g.steps - first);
    // Causal: the tile's queries see none of the task's keys (only a task
    // without dQ, whose key tiles start past 0, gets here).
    if (causal && first + rows <= first_key) continue;
    // The first key tile writes dQ and the first query tile dK, dV, so they
    // start without zeroing; a sequence without keys has zero gradients.
    if (task.query_grads && length == 0)
      std::memset(s.accumulator, 0, static_cast<std::size_t>(rows * ps) * sizeof(float));
    const bool accumulate_key_grads = causal || tile != task.first_query_tile;
    // Causal: key tiles at or past the tile's last query + 1 are skipped.
    const std::int64_t key_end = causal ? std::min(length, first + rows) : length;
    if (length > 0) {
      pack_rows(t.qkv, g, b, h, 0, first, rows, g.scale, s.query);
      pack_tile(t.dcontext, g, b, h, first, rows, s.dout);
      const float* lse = t.log_sum_exp + (b * g.heads + h) * g.steps + first;
      for (std::int64_t r = 0; r < rows; ++r) {
        if (first + r + kPrefetchAhead < g.steps)
          prefetch_for_read(
              t.context + (b * g.steps + first + r + kPrefetchAhead) * g.hidden + h * d, d);
        const float* o = t.context + (b * g.steps + first + r) * g.hidden + h * d;
        const float* dout = s.dout + r * ps;
        float delta = 0.0f;
#pragma omp simd reduction(+ : delta)
        for (std::int64_t c = 0; c < d; ++c) delta += dout[c] * o[c];
        s.row_first[r] = lse[r];
        s.row_second[r] = delta;
      }
    }
    for (std::int64_t tile_key = task.first_key_tile; tile_key < task.last_key_tile; ++tile_key) {
      const std::int64_t key = tile_key * kKeyTile;
      if (key >= key_end) break;
      const std::int64_t keys = std::min(kKeyTile, key_end - key);
      const std::int64_t padded_keys = round_up(keys, kKernelColumns);
      float* p = s.probabilities;
      float* ds = s.dprobabilities;
      float* p_dropped = drop ? s.dropped : p;
      multiply_tiles(rows, padded_keys, d, s.query, ps, 1, s.key_t + key * d, kKernelColumns, panel,
                     p, kScoreStride, false);
      multiply_tiles(rows, padded_keys, d, s.dout, ps, 1, s.value_t + key * d, kKernelColumns,
                     panel, ds, kScoreStride, false);
      for (std::int64_t r = 0; r < rows; ++r) {
        float* p_row = p + r * kScoreStride;
        float* ds_row = ds + r * kScoreStride;
        const float lse = s.row_first[r], delta = s.row_second[r];
        if (drop) {
          float* dropped_row = p_dropped + r * kScoreStride;
          dropout_factors(dropout, g.probability_row(b, h, first + r) + key, keys, s.factors);
#pragma omp simd
          for (std::int64_t j = 0; j < keys; ++j) {
            const float probability = cpu::fast_exp(p_row[j] - lse);
            dropped_row[j] = probability * s.factors[j];
            ds_row[j] = probability * (ds_row[j] * s.factors[j] - delta);
          }
        } else {
#pragma omp simd
          for (std::int64_t j = 0; j < keys; ++j) {
            const float probability = cpu::fast_exp(p_row[j] - lse);
            p_row[j] = probability;
            ds_row[j] = probability * (ds_row[j] - delta);
          }
        }
        const std::int64_t visible =
            causal ? std::clamp<std::int64_t>(first + r + 1 - key, 0, keys) : keys;
        for (std::int64_t j = visible; j < keys; ++j) {
          p_dropped[r * kScoreStride + j] = 0.0f;
          ds_row[j] = 0.0f;
        }
      }
      if (task.key_grads) {
        // dV[key + j] += sum_r (P Z)[r, j] dO[r];  dK[key + j] += sum_r dS[r, j] (scale q_r)
        multiply_tiles(keys, dp, rows, p_dropped, 1, kScoreStride, s.dout, ps, kKernelColumns,
                       s.dvalue + key * ps, ps, accumulate_key_grads);
        multiply_tiles(keys, dp, rows, ds, 1, kScoreStride, s.query, ps, kKernelColumns,
                       s.dkey + key * ps, ps, accumulate_key_grads);
      }
      if (task.query_grads)  // dQ / scale += dS K
        multiply_tiles(rows, dp, keys, ds, kScoreStride, 1, s.key + key * ps, ps, kKernelColumns,
                       s.accumulator, ps, tile_key != task.first_key_tile);
    }
    if (task.query_grads) {
      for (std::int64_t r = 0; r < rows; ++r) {
        if (first + r + kPrefetchAhead < g.steps)
          prefetch_for_write(
              t.dqkv + (b * g.steps + first + r + kPrefetchAhead) * g.row_stride + h * d, d);
        const float* dq = s.accumulator + r * ps;
        float* target = t.dqkv + (b * g.steps + first + r) * g.row_stride + h * d;
#pragma omp simd
        for (std::int64_t c = 0; c < d; ++c) target[c] = dq[c] * g.scale;
      }
    }
  }
  if (task.key_grads) {
    for (std::int64_t j = first_key; j < end_key; ++j) {
      if (j + kPrefetchAhead < end_key) {
        float* ahead =
            t.dqkv + (b * g.steps + j + kPrefetchAhead) * g.row_stride + g.hidden + h * d;
        prefetch_for_write(ahead, d);
        prefetch_for_write(ahead + g.hidden, d);
      }
      float* dk = t.dqkv + (b * g.steps + j) * g.row_stride + g.hidden + h * d;
      float* dv = dk + g.hidden;
      if (j < length) {
        std::memcpy(dk, s.dkey + j * ps, static_cast<std::size_t>(d) * sizeof(float));
        std::memcpy(dv, s.dvalue + j * ps, static_cast<std::size_t>(d) * sizeof(float));
      } else {
        std::memset(dk, 0, static_cast<std::size_t>(d) * sizeof(float));
        std::memset(dv, 0, static_cast<std::size_t>(d) * sizeof(float));
      }
    }
  }
}

// Runs run(task, the thread's scratch) for every task over the pool. A dynamic
// schedule, one task at a time, balances heads whose key lengths differ.
template <class Task, class Run>
void run_tasks(int threads, const std::vector<Task>& tasks, float* scratch,
               std::int64_t slice_floats, const Geometry& g, const Run& run) {
  const std::int64_t count = static_cast<std::int64_t>(tasks.size());
  const int team = static_cast<int>(std::min<std::int64_t>(threads, count));
  if (team <= 1) {
    HeadScratch s = carve_head_scratch(scratch, g);
    for (const Task& task : tasks) run(task, s);
    return;
  }
#pragma omp parallel num_threads(team)
  {
    HeadScratch s = carve_head_scratch(scratch + omp_get_thread_num() * slice_floats, g);
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t i = 0; i < count; ++i) run(tasks[static_cast<std::size_t>(i)], s);
  }
}


std::int64_t scratch_floats_per_thread(const AttentionProblem& problem) {
  return round_up(head_scratch_floats(attention_geometry(problem)), 16);
}

void forward(const AttentionProblem& problem, int threads, float* scratch, float* context,
             float* log_sum_exp) {
  const Geometry g = attention_geometry(problem);
  // Split a head's query tiles when there are too few heads to keep the pool busy.
  const std::int64_t pairs = g.batch * g.heads;
  const std::int64_t chunks =
      std::clamp<std::int64_t>(ceil_div(2 * threads, std::max<std::int64_t>(pairs, 1)), 1,
                               std::max<std::int64_t>(g.forward_query_tiles(), 1));
  const std::int64_t tiles_per_chunk = ceil_div(g.forward_query_tiles(), chunks);
  std::vector<ForwardTask> tasks;
  for (std::int64_t b = 0; b < g.batch; ++b)
    for (std::int64_t h = 0; h < g.heads; ++h)
      for (std::int64_t tile = 0; tile < g.forward_query_tiles(); tile += tiles_per_chunk)
        tasks.push_back({b, h, tile, std::min(tile + tiles_per_chunk, g.forward_query_tiles())});
  const std::int64_t slice = scratch_floats_per_thread(problem);
  run_tasks(threads, tasks, scratch, slice, g, [&](const ForwardTask& task, HeadScratch& s) {
    forward_task(task, g, problem.qkv, problem.key_lengths, problem.causal, problem.dropout, s,
                 context, log_sum_exp);
  });
}

void backward(const AttentionProblem& problem, int threads, float* scratch, const float* context,
              const float* log_sum_exp, const float* dcontext, float* dqkv) {
  const Geometry g = attention_geometry(problem);
  const BackwardTensors tensors{problem.qkv, problem.key_lengths, context,
                                log_sum_exp, dcontext,            dqkv};
  const std::int64_t slice = scratch_floats_per_thread(problem);
  auto run = [&](const BackwardTask& task, HeadScratch& s) {
    backward_task(task, g, tensors, problem.causal, problem.dropout, s);
  };
  const std::int64_t query_tiles = g.query_tiles(), key_tiles = g.key_tiles();
  std::vector<BackwardTask> tasks;
  if (g.batch * g.heads >= threads) {
    for (std::int64_t b = 0; b < g.batch; ++b)
      for (std::int64_t h = 0; h < g.heads; ++h)
        tasks.push_back({b, h, 0, query_tiles, 0, key_tiles, true, true});
    run_tasks(threads, tasks, scratch, slice, g, run);
    return;
  }
  // Few heads: dK, dV per key tile, then dQ per query tile.
  for (std::int64_t b = 0; b < g.batch; ++b)
    for (std::int64_t h = 0; h < g.heads; ++h)
      for (std::int64_t tile = 0; tile < key_tiles; ++tile)
        tasks.push_back({b, h, 0, query_tiles, tile, tile + 1, true, false});
  run_tasks(threads, tasks, scratch, slice, g, run);
  tasks.clear();
  for (std::int64_t b = 0; b < g.batch; ++b)
    for (std::int64_t h = 0; h < g.heads; ++h)
      for (std::int64_t tile = 0; tile < query_tiles; ++tile)
        tasks.push_back({b, h, tile, tile + 1, 0, key_tiles, false, true});
  run_tasks(threads, tasks, scratch, slice, g, run);
}

}  // namespace
}  // namespace SEQTRAIN_CPU_VARIANT

const AttentionKernels& SEQTRAIN_CPU_VARIANT_NAME(attention_kernels)() {
  static const AttentionKernels kernels{SEQTRAIN_CPU_VARIANT_STRING, kFloatLanes,
                                        scratch_floats_per_thread, forward, backward};
  return kernels;
}

}  // namespace seqtrain::cpu
