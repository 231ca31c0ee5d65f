// Fused multi-head self-attention, forward and backward, with the matrix
// products on tensor cores (WMMA m16n16k16, bf16 or fp16 inputs, fp32
// accumulation). The math is kernels/attention.cu's (FlashAttention-2 with the
// saved log-sum-exp; backward's dQ in its own pass, so every gradient is a
// fixed-order sum), with an optional causal mask. For one (b, h), keys j < L
// (and j <= i when causal), scale = 1/sqrt(d):
//   s_ij = scale q_i . k_j,  lse_i = log sum_j exp(s_ij),  p_ij = exp(s_ij - lse_i)
//   o_i = sum_j p_ij z_ij v_j                  (z_ij: dropout factor, 0 or 1/(1-prob))
//   D_i = dO_i . o_i,  ds_ij = p_ij (z_ij dO_i . v_j - D_i)
//   dq_i = scale sum_j ds_ij k_j,  dk_j = scale sum_i ds_ij q_i,  dv_j = sum_i p_ij z_ij dO_i
//
// What runs where. Q, K, V and dO tiles are rounded to the 16-bit operand type
// (bf16 for float and bf16 storage, fp16 for fp16 storage) on their way into
// shared memory; the six products Q K^T, P V, dO V^T, dS K, dS^T Q and
// (P z)^T dO are WMMA mma_sync calls, whose fp32 accumulator tiles go through
// shared memory to the softmax and the dropout, computed in fp32 by the lanes
// of the warp that owns the rows. P z and dS are rounded to the operand type
// before their products (as FlashAttention-2 does); lse, D, the running max and
// sum are fp32. WMMA leaves the fragment layout unspecified, so row
// reductions (softmax max and sum, D) cannot work on fragments: they read the
// score tiles stored to shared memory. Row scaling can: every fragment of one
// type maps elements to lanes alike, so an accumulator loaded once from a
// tile holding r at (r, c) (row_of) tells each lane the row of each element
// it holds, and the forward's O = O e^{m-m'} and o = O / l scale O's
// fragments in place by a per-row factor read from shared memory. The score
// tiles' round trip through shared memory is traffic a hand-written mma.sync
// kernel with its documented register layout avoids (FlashAttention-2 keeps S
// and O in registers); in exchange the emulation runs these kernels unchanged
// (kernels/emu/wmma_emulation.h) and the tests hold them against the serial
// backend.
//
// Geometry: every warp owns 16 rows of the block's tile (queries for forward
// and dq, keys for dk_dv) and computes their products alone; barriers across
// the block only guard the shared K/V (or Q/dO) tiles. Row-wise work in
// forward and dq: two adjacent lanes per row, each half the tile's columns
// (one xor-shuffle reduces a row); in dk_dv one lane per query row of a
// warp's 32 x 16 score tile (d 64), or two lanes per row of a 16 x 16 tile
// (d 128, whose 16 dK and dV accumulator tiles per warp leave no registers
// for more: ptxas counts 246-254 of 255).
//   forward  grid (ceil(T / Bq), B*heads), Bq = 16 warps. Per key tile:
//            S = Q K^T (warp rows), online softmax (m' = max(m, rowmax S),
//            P = exp(S - m'), l = l e^{m-m'} + rowsum P, O = O e^{m-m'} with
//            O in fragments), P z in place of S, O += (P z) V. Writes
//            o = O / l, lse = m + log l.
//   dq       grid (ceil(T / Bq), B*heads): D_i to the workspace, then per key
//            tile S = Q K^T, dP = dO V^T, dS in place of S, dQ += dS K with dQ
//            in fragments (no rescaling needed).
//   dk_dv    grid (ceil(T / Bk), B*heads), Bk = 16 warps, after dq. Per query
//            tile (Bq 32 or 16): S = Q K_w^T and dP = dO V_w^T per warp, dS and
//            P z in place, dK += dS^T Q and dV += (P z)^T dO in fragments.
// Causal: forward and dq stop at key tile min(L, query0 + Bq); dk_dv starts at
// the query tile holding its first key, so tiles entirely above the diagonal
// cost nothing; the diagonal tiles are masked element by element.
//
// Tiles and dynamic shared memory (under the 48 KB a block may use without
// cudaFuncSetAttribute; 16-bit rows are d + 8 elements apart and fp32 rows
// 4 floats longer than their data, against bank conflicts, keeping WMMA's
// 32-byte alignment of every 16 x 16 tile):
//   d     forward (warps, Bq x Bk)   dq (warps, Bq x Bk)   dk_dv (warps, Bk x Bq)
//   64    4, 64x32, 44.0 KB          4, 64x32, 45.0 KB     4, 64x32, 47.3 KB
//   128   2, 32x32, 46.5 KB          2, 32x32, 43.0 KB     2, 32x16, 30.6 KB
// The fp32 output tiles (O / l, dQ, dK, dV) are staged through shared memory
// (the forward's per-warp scratch rows; backward's from offset 0, after a
// barrier) to write whole rows to global memory.
// WMMA loads and stores need 32-byte aligned tiles: every region size and row
// offset here is a multiple of 32 bytes, and the kernels have no static
// __shared__, so the dynamic buffer starts at the (aligned) base of the
// block's shared memory although SEQTRAIN_DYNAMIC_SHARED promises only 16.
//
// Cost per call (H = B*heads, n = T*L*d, or about half of it when causal): the
// products are 4 H n FLOPs forward, 10 H n backward (dP and S are computed
// twice, once in dq and once in dk_dv: 14 H n of which 4 H n recomputed);
// memory traffic as kernels/attention.cu's with 16-bit operand tiles.
// docs/kernels.md has the roofline on the A100 and H100.
#include <cstddef>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "kernels/attention_device.h"
#include "kernels/attention_tensor_core.h"
#include "kernels/device_api.h"
#include "kernels/launch.h"
#include "kernels/storage.h"
#include "kernels/wmma_api.h"

namespace seqtrain::kernels {

namespace wmma = nvcuda::wmma;

namespace {

constexpr int kMmaTile = 16;  // WMMA m = n = k
constexpr int kLanes = 32;
constexpr std::size_t kTensorCoreSharedLimit = 48 * 1024;  // without cudaFuncSetAttribute
constexpr unsigned kFullWarp = 0xffffffffu;

// The 16-bit operand type of the products for a storage type.
template <class Storage>
struct OperandOf {
  using type = __nv_bfloat16;
};
template <>
struct OperandOf<__half> {
  using type = __half;
};

__device__ __forceinline__ __nv_bfloat16 operand_from_float(float value, __nv_bfloat16*) {
  return __float2bfloat16(value);
}
__device__ __forceinline__ __half operand_from_float(float value, __half*) {
  return __float2half(value);
}
template <class Operand>
__device__ __forceinline__ Operand to_operand(float value) {
  return operand_from_float(value, static_cast<Operand*>(nullptr));
}

template <class Operand>
using RowA = wmma::fragment<wmma::matrix_a, kMmaTile, kMmaTile, kMmaTile, Operand, wmma::row_major>;
template <class Operand>
using ColA = wmma::fragment<wmma::matrix_a, kMmaTile, kMmaTile, kMmaTile, Operand, wmma::col_major>;
template <class Operand>
using RowB = wmma::fragment<wmma::matrix_b, kMmaTile, kMmaTile, kMmaTile, Operand, wmma::row_major>;
template <class Operand>
using ColB = wmma::fragment<wmma::matrix_b, kMmaTile, kMmaTile, kMmaTile, Operand, wmma::col_major>;
using Accumulator = wmma::fragment<wmma::accumulator, kMmaTile, kMmaTile, kMmaTile, float>;

// Byte offsets of consecutive shared-memory regions, each 32-byte aligned.
constexpr std::size_t aligned_region(std::size_t bytes) {
  return (bytes + 31) / 32 * 32;
}

__device__ __forceinline__ int rows_in_tile(int tile, int remaining) {
  return remaining < tile ? remaining : tile;
}

// tile[r * kPitch + c] = rows[r * stride + c] as the operand type for
// r < valid_rows, zero below: a [kRows, kD] tile; consecutive threads read
// consecutive elements of a row.
template <int kRows, int kD, int kPitch, int kThreads, class Operand, class Storage>
__device__ __forceinline__ void load_operand_tile(Operand* tile, const Storage* rows,
                                                  std::int64_t stride, int valid_rows) {
  for (int element = threadIdx.x; element < kRows * kD; element += kThreads) {
    const int row = element / kD, column = element % kD;
    tile[row * kPitch + column] =
        to_operand<Operand>(row < valid_rows ? load_float(rows + row * stride + column) : 0.0f);
  }
}

// acc = A B over depth kDepth: A's 16 rows at a (row-major, pitch a_pitch),
// B = (16 rows at b, pitch b_pitch)^T read column-major: S = Q K^T style.
template <int kDepth, class Operand>
__device__ __forceinline__ void multiply_by_transpose(Accumulator& acc, const Operand* a,
                                                      int a_pitch, const Operand* b, int b_pitch) {
  SEQTRAIN_UNROLL
  for (int k = 0; k < kDepth; k += kMmaTile) {
    RowA<Operand> a_fragment;
    ColB<Operand> b_fragment;
    wmma::load_matrix_sync(a_fragment, a + k, a_pitch);
    wmma::load_matrix_sync(b_fragment, b + k, b_pitch);
    wmma::mma_sync(acc, a_fragment, b_fragment, acc);
  }
}

// Writes a warp's 16 x kD fp32 result, held as kD / 16 accumulator tiles, to
// rows out + r * out_stride (r < valid_rows) times scale, through `staging`
// (16 rows of kD + 4 floats owned by the warp).
template <int kD, class Storage>
__device__ __forceinline__ void write_warp_rows(const Accumulator (&tiles)[kD / kMmaTile],
                                                float* staging, Storage* out,
                                                std::int64_t out_stride, int valid_rows,
                                                float scale) {
  constexpr int kPitch = kD + 4;
  SEQTRAIN_UNROLL
  for (int t = 0; t < kD / kMmaTile; ++t)
    wmma::store_matrix_sync(staging + t * kMmaTile, tiles[t], kPitch, wmma::mem_row_major);
  __syncwarp();
  const int lane = threadIdx.x % kLanes;
  for (int element = lane; element < kMmaTile * kD; element += kLanes) {
    const int row = element / kD, column = element % kD;
    if (row < valid_rows)
      store_float(out + row * out_stride + column, scale * staging[row * kPitch + column]);
  }
  __syncwarp();
}

// tile[r][c] *= factor[r], for an accumulator tile whose elements' rows are in
// row_of (the same fragment type loaded from a tile holding r at (r, c)).
__device__ __forceinline__ void scale_rows(Accumulator& tile, const Accumulator& row_of,
                                           const float* factor) {
  SEQTRAIN_UNROLL
  for (int e = 0; e < Accumulator::num_elements; ++e)
    tile.x[e] *= factor[static_cast<int>(row_of.x[e])];
}

// ---- tiles ---------------------------------------------------------------------

// forward and dq: kWarps x 16 query rows, key tiles of kKeys.
template <class Storage, int kHeadDimValue, int kWarpsValue, int kKeysValue>
struct QueryBlockTiles {
  using Operand = typename OperandOf<Storage>::type;
  static constexpr int kD = kHeadDimValue, kWarps = kWarpsValue;
  static constexpr int kThreads = kWarps * kLanes;
  static constexpr int kBq = kWarps * kMmaTile, kBk = kKeysValue;
  static constexpr int kPitch = kD + 8;        // 16-bit Q, dO, K, V rows
  static constexpr int kScorePitch = kBk + 4;  // fp32 S, dP rows
  static constexpr int kProbPitch = kBk + 8;   // 16-bit P z, dS rows, in place of S
  static constexpr int kOutputPitch = kD + 4;  // fp32 O rows (forward), staging rows
  static constexpr int kRowColumns = kBk / 2;  // score columns per lane (two lanes a row)
  static_assert(kBk % kMmaTile == 0 && kD % kMmaTile == 0, "WMMA tiles");
  static_assert(2 * kProbPitch <= 4 * kScorePitch, "16-bit rows fit in place of fp32 rows");

  static constexpr std::size_t q_bytes = aligned_region(2 * kBq * kPitch);
  static constexpr std::size_t kv_bytes = aligned_region(2 * kBk * kPitch);
  static constexpr std::size_t score_bytes = aligned_region(4 * kBq * kScorePitch);
  static constexpr std::size_t output_bytes = aligned_region(4 * kBq * kOutputPitch);
  // forward: Q | K | V | S (P z) | O
  static constexpr std::size_t forward_shared_bytes =
      q_bytes + 2 * kv_bytes + score_bytes + output_bytes;
  // dq: Q | dO | K | V | S (dS) | dP; dQ staged from offset 0 at the end
  static constexpr std::size_t dq_shared_bytes = 2 * q_bytes + 2 * kv_bytes + 2 * score_bytes;
  static_assert(output_bytes <= dq_shared_bytes, "dQ staging fits");
};

// dk_dv: kWarps x 16 key rows, query tiles of kQueries (32: one lane per
// query row of a warp's score tile, 16: two lanes per row, 8 keys each).
template <class Storage, int kHeadDimValue, int kWarpsValue, int kQueriesValue>
struct KeyBlockTiles {
  using Operand = typename OperandOf<Storage>::type;
  static constexpr int kD = kHeadDimValue, kWarps = kWarpsValue;
  static constexpr int kThreads = kWarps * kLanes;
  static constexpr int kBk = kWarps * kMmaTile, kBq = kQueriesValue;
  static constexpr int kLanesPerRow = kLanes / kBq;            // 1 or 2
  static constexpr int kRowColumns = kMmaTile / kLanesPerRow;  // keys per lane
  static_assert(kBq == 16 || kBq == 32, "lanes cover the [Bq, 16] score tile once");
  static constexpr int kPitch = kD + 8;
  static constexpr int kScorePitch = kMmaTile + 4;  // a warp's fp32 [Bq, 16] S, dP
  static constexpr int kProbPitch = kMmaTile + 8;   // its 16-bit dS, P z in place
  static constexpr int kOutputPitch = kD + 4;
  static_assert(kD % kMmaTile == 0 && kBq % kMmaTile == 0, "WMMA tiles");
  static_assert(2 * kProbPitch <= 4 * kScorePitch, "16-bit rows fit in place of fp32 rows");

  static constexpr std::size_t kv_bytes = aligned_region(2 * kBk * kPitch);
  static constexpr std::size_t q_bytes = aligned_region(2 * kBq * kPitch);
  static constexpr std::size_t warp_score_bytes = aligned_region(4 * kBq * kScorePitch);
  static constexpr std::size_t row_bytes = aligned_region(4 * kBq);
  // K | V | Q | dO | S (dS) per warp | dP (P z) per warp | lse | D; dK, dV
  // staged from offset 0 at the end
  static constexpr std::size_t shared_bytes =
      2 * kv_bytes + 2 * q_bytes + 2 * kWarps * warp_score_bytes + 2 * row_bytes;
  static_assert(aligned_region(4 * kBk * kOutputPitch) <= shared_bytes, "dK, dV staging fits");
};

template <class Storage, int kHeadDim>
struct ForwardTiles;
template <class Storage>
struct ForwardTiles<Storage, 64> : QueryBlockTiles<Storage, 64, 4, 32> {};
template <class Storage>
struct ForwardTiles<Storage, 128> : QueryBlockTiles<Storage, 128, 2, 32> {};

template <class Storage, int kHeadDim>
struct DqTiles;
template <class Storage>
struct DqTiles<Storage, 64> : QueryBlockTiles<Storage, 64, 4, 32> {};
template <class Storage>
struct DqTiles<Storage, 128> : QueryBlockTiles<Storage, 128, 2, 32> {};

template <class Storage, int kHeadDim>
struct DkDvTiles;
template <class Storage>
struct DkDvTiles<Storage, 64> : KeyBlockTiles<Storage, 64, 4, 32> {};
template <class Storage>
struct DkDvTiles<Storage, 128> : KeyBlockTiles<Storage, 128, 2, 16> {};

}  // namespace

// ---- forward ---------------------------------------------------------------------

template <class Storage, class Tiles>
__global__ void __launch_bounds__(Tiles::kThreads)
    attention_tensor_core_forward_kernel(const AttentionForwardArgs<Storage> args,
                                         const bool causal) {
  using Operand = typename Tiles::Operand;
  constexpr int kD = Tiles::kD, kBq = Tiles::kBq, kBk = Tiles::kBk, kPitch = Tiles::kPitch;
  constexpr int kScorePitch = Tiles::kScorePitch, kProbPitch = Tiles::kProbPitch;
  constexpr int kOutputPitch = Tiles::kOutputPitch, kRowColumns = Tiles::kRowColumns;
  SEQTRAIN_DYNAMIC_SHARED(unsigned char, shared);
  Operand* q_tile = reinterpret_cast<Operand*>(shared);                   // [Bq, d]
  Operand* k_tile = reinterpret_cast<Operand*>(shared + Tiles::q_bytes);  // [Bk, d]
  Operand* v_tile = reinterpret_cast<Operand*>(shared + Tiles::q_bytes + Tiles::kv_bytes);
  float* s_tile = reinterpret_cast<float*>(shared + Tiles::q_bytes + 2 * Tiles::kv_bytes);
  float* scratch = reinterpret_cast<float*>(shared + Tiles::q_bytes + 2 * Tiles::kv_bytes +
                                            Tiles::score_bytes);  // [Bq, d + 4] fp32

  const AttentionHeadView head =
      attention_head_view(args.steps, args.heads, kD, args.key_lengths, args.bad_length);
  const int T = head.steps, L = head.length;
  const int warp = threadIdx.x / kLanes, lane = threadIdx.x % kLanes;
  const int query0 = blockIdx.x * kBq;
  const int key_end = causal && query0 + kBq < L ? query0 + kBq : L;
  const float scale = 1.0f / sqrtf(static_cast<float>(kD));
  const Storage* qkv = args.qkv + head.q;

  // The warp's rows; a lane's row and half of the score (and O) columns.
  const Operand* q_rows = q_tile + warp * kMmaTile * kPitch;
  float* s_rows = s_tile + warp * kMmaTile * kScorePitch;
  Operand* p_rows = reinterpret_cast<Operand*>(s_rows);            // P z in place of S
  float* warp_scratch = scratch + warp * kMmaTile * kOutputPitch;  // [16, d + 4]
  float* row_factor = warp_scratch;  // per key tile: e^{m - m'} of the warp's 16 rows
  const int row = lane / 2, half = lane % 2;
  const int i = query0 + warp * kMmaTile + row;
  const int column0 = half * kRowColumns;

  load_operand_tile<kBq, kD, kPitch, Tiles::kThreads>(
      q_tile, qkv + query0 * head.token_stride, head.token_stride, rows_in_tile(kBq, T - query0));

  // O stays in accumulator fragments. Which rows a lane's elements belong to is
  // the implementation's choice, but all fragments of one type share it: a
  // fragment loaded from the tile whose element (r, c) is r tells every lane
  // the row of each element it holds, so O's rows can be rescaled in place.
  for (int element = lane; element < kMmaTile * kMmaTile; element += kLanes)
    warp_scratch[element / kMmaTile * kOutputPitch + element % kMmaTile] =
        static_cast<float>(element / kMmaTile);
  __syncwarp();
  Accumulator row_of;
  wmma::load_matrix_sync(row_of, warp_scratch, kOutputPitch, wmma::mem_row_major);
  Accumulator o[kD / kMmaTile];
  SEQTRAIN_UNROLL
  for (int t = 0; t < kD / kMmaTile; ++t) wmma::fill_fragment(o[t], 0.0f);
  __syncwarp();  // every lane has its row_of before row_factor overwrites the tile
  float row_max = -INFINITY, row_sum = 0.0f;

  for (int key0 = 0; key0 < key_end; key0 += kBk) {
    const int keys = rows_in_tile(kBk, L - key0);
    __syncthreads();  // every warp is done with the previous K and V
    load_operand_tile<kBk, kD, kPitch, Tiles::kThreads>(
        k_tile, qkv + head.hidden + key0 * head.token_stride, head.token_stride, keys);
    load_operand_tile<kBk, kD, kPitch, Tiles::kThreads>(
        v_tile, qkv + 2 * head.hidden + key0 * head.token_stride, head.token_stride, keys);
    __syncthreads();

    // S = Q K^T for the warp's 16 rows.
    SEQTRAIN_UNROLL
    for (int n = 0; n < kBk; n += kMmaTile) {
      Accumulator acc;
      wmma::fill_fragment(acc, 0.0f);
      multiply_by_transpose<kD>(acc, q_rows, kPitch, k_tile + n * kPitch, kPitch);
      wmma::store_matrix_sync(s_rows + n, acc, kScorePitch, wmma::mem_row_major);
    }
    __syncwarp();

    // Online softmax over the lane's columns; both lanes of a row end with the
    // same max and sum.
    float p[kRowColumns];
    float tile_max = -INFINITY;
    SEQTRAIN_UNROLL
    for (int c = 0; c < kRowColumns; ++c) {
      const int j = key0 + column0 + c;
      const bool valid = column0 + c < keys && (!causal || j <= i);
      p[c] = valid ? scale * s_rows[row * kScorePitch + column0 + c] : -INFINITY;
      tile_max = fmaxf(tile_max, p[c]);
    }
    tile_max = fmaxf(tile_max, __shfl_xor_sync(kFullWarp, tile_max, 1));
    // Finite from the first tile on (key 0 is valid for every row when L > 0);
    // the guard keeps exp's argument a number all the same.
    const float new_max = fmaxf(row_max, tile_max);
    const float base = new_max == -INFINITY ? 0.0f : new_max;
    const float correction = __expf(row_max - base);  // 0 at the first tile
    float z[kRowColumns];
    if (args.dropout.probability > 0.0f) {
      attention_dropout_factors<kRowColumns, false>(
          args.dropout, static_cast<std::uint64_t>((head.bh * T + i) * T + key0 + column0), z);
    } else {
      SEQTRAIN_UNROLL
      for (int c = 0; c < kRowColumns; ++c) z[c] = 1.0f;
    }
    float tile_sum = 0.0f;
    SEQTRAIN_UNROLL
    for (int c = 0; c < kRowColumns; ++c) {
      p[c] = __expf(p[c] - base);
      tile_sum += p[c];
    }
    row_sum = row_sum * correction + tile_sum + __shfl_xor_sync(kFullWarp, tile_sum, 1);
    row_max = new_max;
    __syncwarp();  // every lane has read its scores before P z overwrites them
    SEQTRAIN_UNROLL
    for (int c = 0; c < kRowColumns; ++c)
      p_rows[row * kProbPitch + column0 + c] = to_operand<Operand>(p[c] * z[c]);
    if (half == 0) row_factor[row] = correction;
    __syncwarp();

    // O = O e^{m - m'} + (P z) V.
    SEQTRAIN_UNROLL
    for (int t = 0; t < kD / kMmaTile; ++t) {
      scale_rows(o[t], row_of, row_factor);
      SEQTRAIN_UNROLL
      for (int k = 0; k < kBk; k += kMmaTile) {
        RowA<Operand> p_fragment;
        RowB<Operand> v_fragment;
        wmma::load_matrix_sync(p_fragment, p_rows + k, kProbPitch);
        wmma::load_matrix_sync(v_fragment, v_tile + k * kPitch + t * kMmaTile, kPitch);
        wmma::mma_sync(o[t], p_fragment, v_fragment, o[t]);
      }
    }
  }

  // o = O / l, written through the warp's scratch rows.
  __syncwarp();  // every lane has read the last tile's row_factor
  if (half == 0) row_factor[row] = row_sum > 0.0f ? 1.0f / row_sum : 0.0f;
  __syncwarp();
  SEQTRAIN_UNROLL
  for (int t = 0; t < kD / kMmaTile; ++t) scale_rows(o[t], row_of, row_factor);
  __syncwarp();  // every lane has read row_factor before the rows overwrite it
  const int warp_query0 = query0 + warp * kMmaTile;
  write_warp_rows<kD>(o, warp_scratch, args.context + head.context + warp_query0 * head.hidden,
                      head.hidden, rows_in_tile(kMmaTile, T - warp_query0), 1.0f);
  if (i < T && half == 0)
    args.log_sum_exp[head.bh * T + i] = row_sum > 0.0f ? row_max + logf(row_sum) : -INFINITY;
}

// ---- backward: dQ ------------------------------------------------------------------

// Writes D_i = dO_i . o_i of the block's query rows to `delta` (the
// workspace), then dq_i = scale sum_j ds_ij k_j for them.
template <class Storage, class Tiles>
__global__ void __launch_bounds__(Tiles::kThreads)
    attention_tensor_core_dq_kernel(const AttentionBackwardArgs<Storage> args, const bool causal,
                                    float* delta) {
  using Operand = typename Tiles::Operand;
  constexpr int kD = Tiles::kD, kBq = Tiles::kBq, kBk = Tiles::kBk, kPitch = Tiles::kPitch;
  constexpr int kScorePitch = Tiles::kScorePitch, kProbPitch = Tiles::kProbPitch;
  constexpr int kRowColumns = Tiles::kRowColumns;
  SEQTRAIN_DYNAMIC_SHARED(unsigned char, shared);
  Operand* q_tile = reinterpret_cast<Operand*>(shared);                    // [Bq, d]
  Operand* do_tile = reinterpret_cast<Operand*>(shared + Tiles::q_bytes);  // [Bq, d]
  Operand* k_tile = reinterpret_cast<Operand*>(shared + 2 * Tiles::q_bytes);
  Operand* v_tile = reinterpret_cast<Operand*>(shared + 2 * Tiles::q_bytes + Tiles::kv_bytes);
  float* s_tile = reinterpret_cast<float*>(shared + 2 * Tiles::q_bytes + 2 * Tiles::kv_bytes);
  float* dp_tile = reinterpret_cast<float*>(shared + 2 * Tiles::q_bytes + 2 * Tiles::kv_bytes +
                                            Tiles::score_bytes);

  const AttentionHeadView head =
      attention_head_view(args.steps, args.heads, kD, args.key_lengths, args.bad_length);
  const int T = head.steps, L = head.length;
  const int warp = threadIdx.x / kLanes, lane = threadIdx.x % kLanes;
  const int query0 = blockIdx.x * kBq;
  const int queries = rows_in_tile(kBq, T - query0);
  const int key_end = causal && query0 + kBq < L ? query0 + kBq : L;
  const float scale = 1.0f / sqrtf(static_cast<float>(kD));
  const Storage* qkv = args.qkv + head.q;

  const Operand* q_rows = q_tile + warp * kMmaTile * kPitch;
  const Operand* do_rows = do_tile + warp * kMmaTile * kPitch;
  float* s_rows = s_tile + warp * kMmaTile * kScorePitch;
  float* dp_rows = dp_tile + warp * kMmaTile * kScorePitch;
  Operand* ds_rows = reinterpret_cast<Operand*>(s_rows);  // dS in place of S
  const int row = lane / 2, half = lane % 2;
  const int i = query0 + warp * kMmaTile + row;
  const int column0 = half * kRowColumns;

  load_operand_tile<kBq, kD, kPitch, Tiles::kThreads>(q_tile, qkv + query0 * head.token_stride,
                                                      head.token_stride, queries);
  load_operand_tile<kBq, kD, kPitch, Tiles::kThreads>(
      do_tile, args.dcontext + head.context + query0 * head.hidden, head.hidden, queries);

  // D_i from storage values in fp32 (not from the rounded dO tile).
  float partial = 0.0f;
  if (i < T) {
    const Storage* o = args.context + head.context + i * head.hidden;
    const Storage* d_o = args.dcontext + head.context + i * head.hidden;
    for (int column = half * (kD / 2); column < (half + 1) * (kD / 2); ++column)
      partial = fmaf(load_float(d_o + column), load_float(o + column), partial);
  }
  const float row_delta = partial + __shfl_xor_sync(kFullWarp, partial, 1);
  const float row_lse = i < T ? args.log_sum_exp[head.bh * T + i] : 0.0f;
  if (i < T && half == 0) delta[head.bh * T + i] = row_delta;

  Accumulator dq[kD / kMmaTile];
  SEQTRAIN_UNROLL
  for (int t = 0; t < kD / kMmaTile; ++t) wmma::fill_fragment(dq[t], 0.0f);

  for (int key0 = 0; key0 < key_end; key0 += kBk) {
    const int keys = rows_in_tile(kBk, L - key0);
    __syncthreads();  // every warp is done with the previous K and V (and Q, dO are in)
    load_operand_tile<kBk, kD, kPitch, Tiles::kThreads>(
        k_tile, qkv + head.hidden + key0 * head.token_stride, head.token_stride, keys);
    load_operand_tile<kBk, kD, kPitch, Tiles::kThreads>(
        v_tile, qkv + 2 * head.hidden + key0 * head.token_stride, head.token_stride, keys);
    __syncthreads();

    // S = Q K^T, dP = dO V^T for the warp's rows.
    SEQTRAIN_UNROLL
    for (int n = 0; n < kBk; n += kMmaTile) {
      Accumulator s_acc, dp_acc;
      wmma::fill_fragment(s_acc, 0.0f);
      wmma::fill_fragment(dp_acc, 0.0f);
      multiply_by_transpose<kD>(s_acc, q_rows, kPitch, k_tile + n * kPitch, kPitch);
      multiply_by_transpose<kD>(dp_acc, do_rows, kPitch, v_tile + n * kPitch, kPitch);
      wmma::store_matrix_sync(s_rows + n, s_acc, kScorePitch, wmma::mem_row_major);
      wmma::store_matrix_sync(dp_rows + n, dp_acc, kScorePitch, wmma::mem_row_major);
    }
    __syncwarp();

    float z[kRowColumns];
    if (args.dropout.probability > 0.0f) {
      attention_dropout_factors<kRowColumns, false>(
          args.dropout, static_cast<std::uint64_t>((head.bh * T + i) * T + key0 + column0), z);
    } else {
      SEQTRAIN_UNROLL
      for (int c = 0; c < kRowColumns; ++c) z[c] = 1.0f;
    }
    float ds[kRowColumns];
    SEQTRAIN_UNROLL
    for (int c = 0; c < kRowColumns; ++c) {
      const int j = key0 + column0 + c;
      const bool valid = i < T && column0 + c < keys && (!causal || j <= i);
      const int at = row * kScorePitch + column0 + c;
      const float p = valid ? __expf(scale * s_rows[at] - row_lse) : 0.0f;
      ds[c] = p * (z[c] * dp_rows[at] - row_delta);
    }
    __syncwarp();  // every lane has read its scores before dS overwrites them
    SEQTRAIN_UNROLL
    for (int c = 0; c < kRowColumns; ++c)
      ds_rows[row * kProbPitch + column0 + c] = to_operand<Operand>(ds[c]);
    __syncwarp();

    // dQ += dS K.
    SEQTRAIN_UNROLL
    for (int t = 0; t < kD / kMmaTile; ++t) {
      SEQTRAIN_UNROLL
      for (int k = 0; k < kBk; k += kMmaTile) {
        RowA<Operand> ds_fragment;
        RowB<Operand> k_fragment;
        wmma::load_matrix_sync(ds_fragment, ds_rows + k, kProbPitch);
        wmma::load_matrix_sync(k_fragment, k_tile + k * kPitch + t * kMmaTile, kPitch);
        wmma::mma_sync(dq[t], ds_fragment, k_fragment, dq[t]);
      }
    }
  }

  __syncthreads();  // shared memory becomes the staging of dQ
  float* staging = reinterpret_cast<float*>(shared) + warp * kMmaTile * Tiles::kOutputPitch;
  const int warp_query0 = query0 + warp * kMmaTile;
  write_warp_rows<kD>(dq, staging, args.dqkv + head.q + warp_query0 * head.token_stride,
                      head.token_stride, rows_in_tile(kMmaTile, T - warp_query0), scale);
}

// ---- backward: dK, dV --------------------------------------------------------------

// dk_j = scale sum_i ds_ij q_i and dv_j = sum_i p_ij z_ij dO_i for the block's
// key rows; D_i comes from the dq kernel.
template <class Storage, class Tiles>
__global__ void __launch_bounds__(Tiles::kThreads)
    attention_tensor_core_dk_dv_kernel(const AttentionBackwardArgs<Storage> args, const bool causal,
                                       const float* delta) {
  using Operand = typename Tiles::Operand;
  constexpr int kD = Tiles::kD, kBq = Tiles::kBq, kBk = Tiles::kBk, kPitch = Tiles::kPitch;
  constexpr int kScorePitch = Tiles::kScorePitch, kProbPitch = Tiles::kProbPitch;
  constexpr int kRowColumns = Tiles::kRowColumns;
  SEQTRAIN_DYNAMIC_SHARED(unsigned char, shared);
  std::size_t offset = 0;
  Operand* k_tile = reinterpret_cast<Operand*>(shared + offset);  // [Bk, d]
  offset += Tiles::kv_bytes;
  Operand* v_tile = reinterpret_cast<Operand*>(shared + offset);  // [Bk, d]
  offset += Tiles::kv_bytes;
  Operand* q_tile = reinterpret_cast<Operand*>(shared + offset);  // [Bq, d]
  offset += Tiles::q_bytes;
  Operand* do_tile = reinterpret_cast<Operand*>(shared + offset);  // [Bq, d]
  offset += Tiles::q_bytes;
  const int warp = threadIdx.x / kLanes, lane = threadIdx.x % kLanes;
  float* s_rows = reinterpret_cast<float*>(shared + offset + warp * Tiles::warp_score_bytes);
  offset += Tiles::kWarps * Tiles::warp_score_bytes;
  float* dp_rows = reinterpret_cast<float*>(shared + offset + warp * Tiles::warp_score_bytes);
  offset += Tiles::kWarps * Tiles::warp_score_bytes;
  float* lse_rows = reinterpret_cast<float*>(shared + offset);  // [Bq]
  offset += Tiles::row_bytes;
  float* delta_rows = reinterpret_cast<float*>(shared + offset);  // [Bq]
  Operand* ds_rows = reinterpret_cast<Operand*>(s_rows);          // dS in place of S
  Operand* pz_rows = reinterpret_cast<Operand*>(dp_rows);         // P z in place of dP

  const AttentionHeadView head =
      attention_head_view(args.steps, args.heads, kD, args.key_lengths, args.bad_length);
  const int T = head.steps, L = head.length;
  const int key0 = blockIdx.x * kBk;
  const int warp_key0 = key0 + warp * kMmaTile;
  const float scale = 1.0f / sqrtf(static_cast<float>(kD));
  const Storage* qkv = args.qkv + head.q;
  const Operand* k_rows = k_tile + warp * kMmaTile * kPitch;
  const Operand* v_rows = v_tile + warp * kMmaTile * kPitch;

  Accumulator dk[kD / kMmaTile], dv[kD / kMmaTile];
  SEQTRAIN_UNROLL
  for (int t = 0; t < kD / kMmaTile; ++t) {
    wmma::fill_fragment(dk[t], 0.0f);
    wmma::fill_fragment(dv[t], 0.0f);
  }

  if (key0 < L) {  // the same for the whole block: past L every gradient is zero
    const int keys = rows_in_tile(kBk, L - key0);
    load_operand_tile<kBk, kD, kPitch, Tiles::kThreads>(
        k_tile, qkv + head.hidden + key0 * head.token_stride, head.token_stride, keys);
    load_operand_tile<kBk, kD, kPitch, Tiles::kThreads>(
        v_tile, qkv + 2 * head.hidden + key0 * head.token_stride, head.token_stride, keys);
    // Causal: query tiles wholly before the block's first key see none of its keys.
    const int query_begin = causal ? key0 / kBq * kBq : 0;
    for (int query0 = query_begin; query0 < T; query0 += kBq) {
      const int queries = rows_in_tile(kBq, T - query0);
      __syncthreads();  // every warp is done with the previous Q, dO, lse and D
      load_operand_tile<kBq, kD, kPitch, Tiles::kThreads>(q_tile, qkv + query0 * head.token_stride,
                                                          head.token_stride, queries);
      load_operand_tile<kBq, kD, kPitch, Tiles::kThreads>(
          do_tile, args.dcontext + head.context + query0 * head.hidden, head.hidden, queries);
      for (int r = threadIdx.x; r < kBq; r += Tiles::kThreads) {
        const int i = query0 + r;
        lse_rows[r] = i < T ? args.log_sum_exp[head.bh * T + i] : 0.0f;
        delta_rows[r] = i < T ? delta[head.bh * T + i] : 0.0f;
      }
      __syncthreads();

      // S = Q K_w^T, dP = dO V_w^T: [Bq, 16] for the warp's keys.
      SEQTRAIN_UNROLL
      for (int m = 0; m < kBq; m += kMmaTile) {
        Accumulator s_acc, dp_acc;
        wmma::fill_fragment(s_acc, 0.0f);
        wmma::fill_fragment(dp_acc, 0.0f);
        multiply_by_transpose<kD>(s_acc, q_tile + m * kPitch, kPitch, k_rows, kPitch);
        multiply_by_transpose<kD>(dp_acc, do_tile + m * kPitch, kPitch, v_rows, kPitch);
        wmma::store_matrix_sync(s_rows + m * kScorePitch, s_acc, kScorePitch, wmma::mem_row_major);
        wmma::store_matrix_sync(dp_rows + m * kScorePitch, dp_acc, kScorePitch,
                                wmma::mem_row_major);
      }
      __syncwarp();

      // The lane's query row and run of kRowColumns of the warp's 16 keys.
      const int row = lane / Tiles::kLanesPerRow;
      const int column0 = lane % Tiles::kLanesPerRow * kRowColumns;
      const int i = query0 + row;
      float z[kRowColumns];
      if (args.dropout.probability > 0.0f) {
        attention_dropout_factors<kRowColumns, false>(
            args.dropout, static_cast<std::uint64_t>((head.bh * T + i) * T + warp_key0 + column0),
            z);
      } else {
        SEQTRAIN_UNROLL
        for (int c = 0; c < kRowColumns; ++c) z[c] = 1.0f;
      }
      float ds[kRowColumns], pz[kRowColumns];
      SEQTRAIN_UNROLL
      for (int c = 0; c < kRowColumns; ++c) {
        const int j = warp_key0 + column0 + c;
        const bool valid = i < T && j < L && (!causal || j <= i);
        const int at = row * kScorePitch + column0 + c;
        const float p = valid ? __expf(scale * s_rows[at] - lse_rows[row]) : 0.0f;
        ds[c] = p * (z[c] * dp_rows[at] - delta_rows[row]);
        pz[c] = p * z[c];
      }
      __syncwarp();  // every lane has read its scores before dS and P z overwrite them
      SEQTRAIN_UNROLL
      for (int c = 0; c < kRowColumns; ++c) {
        ds_rows[row * kProbPitch + column0 + c] = to_operand<Operand>(ds[c]);
        pz_rows[row * kProbPitch + column0 + c] = to_operand<Operand>(pz[c]);
      }
      __syncwarp();

      // dK += dS^T Q, dV += (P z)^T dO: A is the [16 keys, Bq] transpose of
      // the [Bq, 16] tile, read column-major.
      SEQTRAIN_UNROLL
      for (int t = 0; t < kD / kMmaTile; ++t) {
        SEQTRAIN_UNROLL
        for (int k = 0; k < kBq; k += kMmaTile) {
          ColA<Operand> ds_fragment, pz_fragment;
          RowB<Operand> q_fragment, do_fragment;
          wmma::load_matrix_sync(ds_fragment, ds_rows + k * kProbPitch, kProbPitch);
          wmma::load_matrix_sync(q_fragment, q_tile + k * kPitch + t * kMmaTile, kPitch);
          wmma::mma_sync(dk[t], ds_fragment, q_fragment, dk[t]);
          wmma::load_matrix_sync(pz_fragment, pz_rows + k * kProbPitch, kProbPitch);
          wmma::load_matrix_sync(do_fragment, do_tile + k * kPitch + t * kMmaTile, kPitch);
          wmma::mma_sync(dv[t], pz_fragment, do_fragment, dv[t]);
        }
      }
    }
  }

  __syncthreads();  // shared memory becomes the staging of dK and dV
  float* staging = reinterpret_cast<float*>(shared) + warp * kMmaTile * Tiles::kOutputPitch;
  Storage* out = args.dqkv + head.q + warp_key0 * head.token_stride;
  const int valid_keys = rows_in_tile(kMmaTile, T - warp_key0);
  write_warp_rows<kD>(dk, staging, out + head.hidden, head.token_stride, valid_keys, scale);
  write_warp_rows<kD>(dv, staging, out + 2 * head.hidden, head.token_stride, valid_keys, 1.0f);
}

// ---- launches ----------------------------------------------------------------------

namespace {

unsigned tile_count(std::int32_t steps, int tile) {
  return static_cast<unsigned>((steps + tile - 1) / tile);
}

// Shapes every entry point checks; false when there is no work.
bool check_shape(const char* entry, std::int32_t batch, std::int32_t steps, std::int32_t heads,
                 std::int32_t head_dim, const AttentionDropoutParams& dropout) {
  if (dropout.probability > 0.0f && dropout.first_index != 0)
    throw std::invalid_argument(std::string("kernels::") + entry +
                                ": no data-parallel dropout offset (first_index) on tensor cores; "
                                "attention.cu's kernels draw it");
  if (!attention_tensor_core_supports_head_dim(head_dim))
    throw std::invalid_argument(std::string("kernels::") + entry + ": head dim " +
                                std::to_string(head_dim) +
                                " has no tensor-core kernel (64 or 128)");
  if (batch < 0 || steps < 0 || heads < 0 || static_cast<std::int64_t>(batch) * heads > 65535)
    throw std::invalid_argument(std::string("kernels::") + entry + ": batch " +
                                std::to_string(batch) + " x heads " + std::to_string(heads) +
                                " must be in [0, 65535] (one grid row per (batch, head))");
  return batch > 0 && steps > 0 && heads > 0;
}

template <class Storage, int kHeadDim>
void launch_forward(const AttentionForwardArgs<Storage>& args, bool causal, cudaStream_t stream) {
  using Tiles = ForwardTiles<Storage, kHeadDim>;
  static_assert(Tiles::forward_shared_bytes <= kTensorCoreSharedLimit);
  const LaunchConfig config{
      dim3(tile_count(args.steps, Tiles::kBq), static_cast<unsigned>(args.batch * args.heads)),
      dim3(Tiles::kThreads), Tiles::forward_shared_bytes, stream};
  SEQTRAIN_LAUNCH(config, attention_tensor_core_forward_kernel<Storage, Tiles>, args, causal);
}

template <class Storage, int kHeadDim>
void launch_backward(const AttentionBackwardArgs<Storage>& args, bool causal, cudaStream_t stream) {
  using Dq = DqTiles<Storage, kHeadDim>;
  using DkDv = DkDvTiles<Storage, kHeadDim>;
  static_assert(Dq::dq_shared_bytes <= kTensorCoreSharedLimit);
  static_assert(DkDv::shared_bytes <= kTensorCoreSharedLimit);
  float* delta = static_cast<float*>(args.workspace);
  const auto heads = static_cast<unsigned>(args.batch * args.heads);
  const LaunchConfig dq_config{dim3(tile_count(args.steps, Dq::kBq), heads), dim3(Dq::kThreads),
                               Dq::dq_shared_bytes, stream};
  SEQTRAIN_LAUNCH(dq_config, attention_tensor_core_dq_kernel<Storage, Dq>, args, causal, delta);
  const LaunchConfig dk_dv_config{dim3(tile_count(args.steps, DkDv::kBk), heads),
                                  dim3(DkDv::kThreads), DkDv::shared_bytes, stream};
  SEQTRAIN_LAUNCH(dk_dv_config, attention_tensor_core_dk_dv_kernel<Storage, DkDv>, args, causal,
                  static_cast<const float*>(delta));
}

template <class Storage>
void dispatch_forward(const AttentionForwardArgs<Storage>& args, bool causal, cudaStream_t stream) {
  if (!check_shape("attention_tensor_core_forward", args.batch, args.steps, args.heads,
                   args.head_dim, args.dropout))
    return;
  if (args.head_dim == 64) return launch_forward<Storage, 64>(args, causal, stream);
  launch_forward<Storage, 128>(args, causal, stream);
}

template <class Storage>
void dispatch_backward(const AttentionBackwardArgs<Storage>& args, bool causal,
                       cudaStream_t stream) {
  if (!check_shape("attention_tensor_core_backward", args.batch, args.steps, args.heads,
                   args.head_dim, args.dropout))
    return;
  if (args.workspace == nullptr)
    throw std::invalid_argument(
        "kernels::attention_tensor_core_backward: no workspace (attention_workspace_bytes)");
  if (args.head_dim == 64) return launch_backward<Storage, 64>(args, causal, stream);
  launch_backward<Storage, 128>(args, causal, stream);
}

}  // namespace

bool attention_tensor_core_supports_head_dim(std::int32_t head_dim) {
  return head_dim == 64 || head_dim == 128;
}

void attention_tensor_core_forward(const AttentionForwardArgs<float>& args,
                                   cudaStream_t stream) {
  dispatch_forward(args, args.causal, stream);
}
void attention_tensor_core_forward(const AttentionForwardArgs<__nv_bfloat16>& args,
                                   cudaStream_t stream) {
  dispatch_forward(args, args.causal, stream);
}
void attention_tensor_core_forward(const AttentionForwardArgs<__half>& args,
                                   cudaStream_t stream) {
  dispatch_forward(args, args.causal, stream);
}
void attention_tensor_core_backward(const AttentionBackwardArgs<float>& args,
                                    cudaStream_t stream) {
  dispatch_backward(args, args.causal, stream);
}
void attention_tensor_core_backward(const AttentionBackwardArgs<__nv_bfloat16>& args,
                                    cudaStream_t stream) {
  dispatch_backward(args, args.causal, stream);
}
void attention_tensor_core_backward(const AttentionBackwardArgs<__half>& args,
                                    cudaStream_t stream) {
  dispatch_backward(args, args.causal, stream);
}

}  // namespace seqtrain::kernels
