// Fused multi-head self-attention, forward and backward (FlashAttention-2's
// tiling with fp32 FMA arithmetic, no tensor cores). Formulas and layouts are
// Backend::attention_forward/backward's (include/seqtrain/backend.h); the
// serial backend's plain loops are the reference the emulated tests hold these
// kernels against. For one (b, h), keys j < L = key_lengths[b], scale = 1/sqrt(d):
//   s_ij = scale q_i . k_j,  lse_i = log sum_j exp(s_ij),  p_ij = exp(s_ij - lse_i)
//   o_i = sum_j p_ij z_ij v_j                  (z_ij: dropout factor, 0 or 1/(1-prob))
//   D_i = dO_i . o_i,  ds_ij = p_ij (z_ij dO_i . v_j - D_i)
//   dq_i = scale sum_j ds_ij k_j,  dk_j = scale sum_i ds_ij q_i,  dv_j = sum_i p_ij z_ij dO_i
// The T x T scores never reach global memory: each block keeps one score tile
// in shared memory, and backward recomputes p from q, k and the saved lse. The
// dropout mask is not stored either: z_ij is Philox at ((b*heads + h)*T + i)*T + j
// (include/seqtrain/philox.h), drawn again by backward, the same numbers every
// backend draws.
//
// Geometry: 128 threads per block, seen as 16 row lanes x 8 column lanes (the
// 8 lanes sharing a row are adjacent lanes of one warp, so row reductions are
// three xor-shuffles). A score tile [queries x keys] gives each thread rows
// row_lane + 16 r and a run of adjacent key columns (one Philox block serves up
// to four of them); an output tile [rows x d] gives each thread rows
// row_lane + 16 r and columns column_lane + 8 k (conflict-free shared reads,
// 32-byte global segments). Shared rows are d + 1 floats apart, so the column
// walk of q_i . k_j touches a different bank per row. Tiles are fp32 in
// dynamic shared memory whatever the storage (bf16 converts on load).
//
// forward    grid (ceil(T / Bq), B*heads). The block loads its Q tile (scaled),
//            then for each K/V tile of keys j < L: S = Q K^T in registers, the
//            online softmax (m' = max(m, rowmax S), P = exp(S - m'),
//            l = l e^{m-m'} + rowsum P, O = O e^{m-m'}), P z into shared, V over
//            K's buffer, O += (P z) V. Writes o = O / l and lse = m + log l
//            (0 and -inf when L = 0). Four barriers per key tile.
// dq         grid (ceil(T / Bq), B*heads). Q tile (scaled) and dO tile stay; the
//            block first writes D_i = dO_i . o_i of its rows to the workspace,
//            then per K/V tile recomputes S and dP = dO V^T, forms dS in shared
//            and accumulates dQ += dS K in registers. Three barriers per tile.
// dk_dv      grid (ceil(T / Bk), B*heads), after dq (it reads D). K and V tiles
//            stay; per Q/dO tile: S, dP, P z and dS into shared, then
//            dV += (P z)^T dO, dK += dS^T (scale Q) in registers. Key tiles at
//            or past L write zeros without looping. Three barriers per tile.
// causal     query i sees keys j <= i only (j < min(L, i + 1)). forward and dq
//            end their key loop at the tile's last query (key tiles wholly
//            above the diagonal are never loaded or computed) and dk_dv starts
//            its query loop at the tile holding query key0; only the diagonal
//            tiles mask elements (s = -inf, p = 0). At T >> tile size this does
//            (T / Bq + 1) / (2 T / Bq) of the tiles, about half.
// Computing dQ in its own pass (instead of atomics from dk_dv) recomputes S
// and dP once more but makes every gradient a fixed-order sum: bit-identical
// across runs.
//
// Tiles (queries Bq x keys Bk) and dynamic shared memory per block:
//   d     forward          dq               dk_dv
//   32    64x64  33.5 KB   64x32  33.8 KB   64x32  42.2 KB
//   64    64x32  33.4 KB   32x32  37.5 KB   32x32  41.7 KB
//   128   32x32  37.2 KB   16x16  34.1 KB   16x16  35.2 KB
// all under the 48 KB a block may use without opting in; accumulators per
// thread are at most 32 (O, dQ; dK + dV), so nothing spills (ptxas report).
//
// Cost per call, with s the storage bytes (4 or 2), H = B*heads, n = T*L*d:
//   forward  4 H n FLOPs; reads Q once and K, V ceil(T/Bq) times (mostly from
//            L2): (1 + 2 ceil(T/Bq)) B T heads d s bytes, writes B T heads d s
//            + 4 H T.
//   backward 14 H n FLOPs (FlashAttention-2 with atomics needs 10 H n);
//            reads O, dO once, Q, dO ceil(T/Bk) times and K, V ceil(T/Bq)
//            times; writes dqkv (3 B T heads d s) and D (4 H T).
// A score tile costs Bk (forward: 2 d) loaded floats per 4 Bq Bk d FLOPs, 2 Bq
// FLOPs per byte at fp32: compute bound on the FMA pipe of an A100 (19.5
// TFLOP/s fp32) or H100 (67 TFLOP/s SXM), about a tenth of what tensor-core
// FlashAttention reaches. At B 16, heads 8, T 512, d 64 forward is 8.6 GFLOP.
#include <stdexcept>
#include <string>

#include "kernels/attention.h"
#include "kernels/attention_device.h"
#include "kernels/bad_index.h"
#include "kernels/device_api.h"
#include "kernels/launch.h"
#include "kernels/storage.h"
#include "seqtrain/philox.h"

namespace seqtrain::kernels {

constexpr int kAttentionThreads = 128;
constexpr int kColumnLanes = 8;                              // threads sharing a tile row
constexpr int kRowLanes = kAttentionThreads / kColumnLanes;  // 16
constexpr std::size_t kAttentionSharedLimit = 48 * 1024;     // without cudaFuncSetAttribute

template <int kHeadDimValue, int kQueriesValue, int kKeysValue>
struct AttentionTiles {
  static constexpr int kHeadDim = kHeadDimValue;
  static constexpr int kQueries = kQueriesValue;           // Bq
  static constexpr int kKeys = kKeysValue;                 // Bk
  static constexpr int kRowPitch = kHeadDim + 1;           // floats between rows of a [., d] tile
  static constexpr int kScorePitch = kKeys + 1;            // floats between rows of a [Bq, Bk] tile
  static constexpr int kQueryRows = kQueries / kRowLanes;  // query rows per thread
  static constexpr int kKeyRows = kKeys / kRowLanes;       // key rows per thread (dK, dV)
  static constexpr int kKeyColumns = kKeys / kColumnLanes;     // adjacent score columns per thread
  static constexpr int kDimColumns = kHeadDim / kColumnLanes;  // head-dim columns per thread
  static_assert(kQueries % kRowLanes == 0 && kKeys % kRowLanes == 0, "tile rows");
  static_assert(kKeys % kColumnLanes == 0 && kHeadDim % kColumnLanes == 0, "tile columns");

  static constexpr std::size_t forward_shared_bytes =
      sizeof(float) * ((kQueries + kKeys) * kRowPitch + kQueries * kScorePitch);
  static constexpr std::size_t dq_shared_bytes =
      sizeof(float) * (2 * (kQueries + kKeys) * kRowPitch + kQueries * kScorePitch);
  static constexpr std::size_t dk_dv_shared_bytes =
      sizeof(float) * (2 * (kQueries + kKeys) * kRowPitch + 2 * kQueries * kScorePitch);
};

template <int kHeadDim>
struct AttentionForwardTiles;
template <>
struct AttentionForwardTiles<32> : AttentionTiles<32, 64, 64> {};
template <>
struct AttentionForwardTiles<64> : AttentionTiles<64, 64, 32> {};
template <>
struct AttentionForwardTiles<128> : AttentionTiles<128, 32, 32> {};

template <int kHeadDim>
struct AttentionBackwardTiles;
template <>
struct AttentionBackwardTiles<32> : AttentionTiles<32, 64, 32> {};
template <>
struct AttentionBackwardTiles<64> : AttentionTiles<64, 32, 32> {};
template <>
struct AttentionBackwardTiles<128> : AttentionTiles<128, 16, 16> {};

namespace {

// min(tile, remaining): the rows of a tile that exist.
__device__ __forceinline__ int rows_in_tile(int tile, int remaining) {
  return remaining < tile ? remaining : tile;
}

// tile[r][c] = scale * rows[r * stride + c] for r < valid_rows, 0 below: a
// [kRows, kHeadDim] tile with rows kHeadDim + 1 floats apart. Consecutive
// threads read consecutive elements of a row.
template <int kRows, int kHeadDim, class Storage>
__device__ __forceinline__ void load_tile(float* tile, const Storage* rows, std::int64_t stride,
                                          int valid_rows, float scale) {
  for (int element = threadIdx.x; element < kRows * kHeadDim; element += kAttentionThreads) {
    const int row = element / kHeadDim, column = element % kHeadDim;
    tile[row * (kHeadDim + 1) + column] =
        row < valid_rows ? scale * load_float(rows + row * stride + column) : 0.0f;
  }
}

// Max and sum over the 8 adjacent lanes that share a tile row.
__device__ __forceinline__ float row_lanes_max(float value) {
  SEQTRAIN_UNROLL
  for (int lane_mask = kColumnLanes / 2; lane_mask > 0; lane_mask /= 2)
    value = fmaxf(value, __shfl_xor_sync(0xffffffffu, value, lane_mask));
  return value;
}
__device__ __forceinline__ float row_lanes_sum(float value) {
  SEQTRAIN_UNROLL
  for (int lane_mask = kColumnLanes / 2; lane_mask > 0; lane_mask /= 2)
    value += __shfl_xor_sync(0xffffffffu, value, lane_mask);
  return value;
}

}  // namespace

template <class Storage, class Tiles>
__global__ void __launch_bounds__(kAttentionThreads)
    attention_forward_kernel(const AttentionForwardArgs<Storage> args) {
  constexpr int kD = Tiles::kHeadDim, kBq = Tiles::kQueries, kBk = Tiles::kKeys;
  constexpr int kRows = Tiles::kQueryRows, kKeyColumns = Tiles::kKeyColumns;
  constexpr int kColumns = Tiles::kDimColumns;
  constexpr int kPitch = Tiles::kRowPitch, kScorePitch = Tiles::kScorePitch;
  SEQTRAIN_DYNAMIC_SHARED(float, shared);
  float* q_tile = shared;                  // [Bq, d]: scale q_i
  float* kv_tile = q_tile + kBq * kPitch;  // [Bk, d]: k_j, then v_j
  float* p_tile = kv_tile + kBk * kPitch;  // [Bq, Bk]: p_ij z_ij (unnormalised)

  const AttentionHeadView head =
      attention_head_view(args.steps, args.heads, kD, args.key_lengths, args.bad_length);
  const int T = head.steps, L = head.length;
  const int query0 = blockIdx.x * kBq;
  const int row_lane = threadIdx.x / kColumnLanes, column_lane = threadIdx.x % kColumnLanes;
  const int key_column0 = column_lane * kKeyColumns;  // first of this thread's score columns
  const float scale = 1.0f / sqrtf(static_cast<float>(kD));
  const Storage* qkv = args.qkv + head.q;

  load_tile<kBq, kD>(q_tile, qkv + query0 * head.token_stride, head.token_stride,
                     rows_in_tile(kBq, T - query0), scale);
  float o[kRows][kColumns];
  float row_max[kRows], row_sum[kRows];
  SEQTRAIN_UNROLL
  for (int r = 0; r < kRows; ++r) {
    row_max[r] = -INFINITY;
    row_sum[r] = 0.0f;
    SEQTRAIN_UNROLL
    for (int k = 0; k < kColumns; ++k) o[r][k] = 0.0f;
  }

  // Causal: the tile's last query, query0 + Bq - 1, sees no key past itself.
  const int key_end = args.causal && query0 + kBq < L ? query0 + kBq : L;
  for (int key0 = 0; key0 < key_end; key0 += kBk) {
    const int keys = rows_in_tile(kBk, key_end - key0);
    __syncthreads();  // the previous tile's readers of kv_tile (V) and p_tile are done
    load_tile<kBk, kD>(kv_tile, qkv + head.hidden + key0 * head.token_stride, head.token_stride,
                       keys, 1.0f);
    __syncthreads();

    float s[kRows][kKeyColumns];
    SEQTRAIN_UNROLL
    for (int r = 0; r < kRows; ++r) {
      SEQTRAIN_UNROLL
      for (int c = 0; c < kKeyColumns; ++c) s[r][c] = 0.0f;
    }
    for (int depth = 0; depth < kD; ++depth) {
      float q[kRows];
      SEQTRAIN_UNROLL
      for (int r = 0; r < kRows; ++r) q[r] = q_tile[(row_lane + kRowLanes * r) * kPitch + depth];
      SEQTRAIN_UNROLL
      for (int c = 0; c < kKeyColumns; ++c) {
        const float k = kv_tile[(key_column0 + c) * kPitch + depth];
        SEQTRAIN_UNROLL
        for (int r = 0; r < kRows; ++r) s[r][c] = fmaf(q[r], k, s[r][c]);
      }
    }

    // Online softmax: every lane of a row group ends with the same max and sum.
    SEQTRAIN_UNROLL
    for (int r = 0; r < kRows; ++r) {
      // Columns c < visible of the tile are keys the row's query sees
      // (causal: key0 + c <= i as well).
      const int causal_visible = query0 + row_lane + kRowLanes * r + 1 - key0;
      const int visible = args.causal && causal_visible < keys ? causal_visible : keys;
      float tile_max = -INFINITY;
      SEQTRAIN_UNROLL
      for (int c = 0; c < kKeyColumns; ++c) {
        if (key_column0 + c >= visible) s[r][c] = -INFINITY;
        tile_max = fmaxf(tile_max, s[r][c]);
      }
      // Finite: key0 < L, so the row's first column is a real key (causal: the
      // first tile holds key 0, which every query sees, so row_max is finite
      // before a tile can mask a whole row).
      const float new_max = fmaxf(row_max[r], row_lanes_max(tile_max));
      const float correction = __expf(row_max[r] - new_max);  // 0 at the first tile
      float tile_sum = 0.0f;
      SEQTRAIN_UNROLL
      for (int c = 0; c < kKeyColumns; ++c) {
        s[r][c] = __expf(s[r][c] - new_max);
        tile_sum += s[r][c];
      }
      row_sum[r] = row_sum[r] * correction + row_lanes_sum(tile_sum);
      row_max[r] = new_max;
      SEQTRAIN_UNROLL
      for (int k = 0; k < kColumns; ++k) o[r][k] *= correction;
      const int row = row_lane + kRowLanes * r;
      if (args.dropout.probability > 0.0f) {
        float z[kKeyColumns];
        attention_dropout_factors<kKeyColumns>(
            args.dropout,
            static_cast<std::uint64_t>((head.bh * T + query0 + row) * T + key0 + key_column0), z);
        SEQTRAIN_UNROLL
        for (int c = 0; c < kKeyColumns; ++c) s[r][c] *= z[c];
      }
      SEQTRAIN_UNROLL
      for (int c = 0; c < kKeyColumns; ++c) p_tile[row * kScorePitch + key_column0 + c] = s[r][c];
    }
    __syncthreads();  // K is read, P is written
    load_tile<kBk, kD>(kv_tile, qkv + 2 * head.hidden + key0 * head.token_stride, head.token_stride,
                       keys, 1.0f);
    __syncthreads();

    for (int j = 0; j < keys; ++j) {
      float v[kColumns];
      SEQTRAIN_UNROLL
      for (int k = 0; k < kColumns; ++k)
        v[k] = kv_tile[j * kPitch + column_lane + kColumnLanes * k];
      SEQTRAIN_UNROLL
      for (int r = 0; r < kRows; ++r) {
        const float p = p_tile[(row_lane + kRowLanes * r) * kScorePitch + j];
        SEQTRAIN_UNROLL
        for (int k = 0; k < kColumns; ++k) o[r][k] = fmaf(p, v[k], o[r][k]);
      }
    }
  }

  SEQTRAIN_UNROLL
  for (int r = 0; r < kRows; ++r) {
    const int i = query0 + row_lane + kRowLanes * r;
    if (i >= T) continue;
    const float inverse = row_sum[r] > 0.0f ? 1.0f / row_sum[r] : 0.0f;
    Storage* out = args.context + head.context + i * head.hidden;
    SEQTRAIN_UNROLL
    for (int k = 0; k < kColumns; ++k)
      store_float(out + column_lane + kColumnLanes * k, o[r][k] * inverse);
    if (column_lane == 0)
      args.log_sum_exp[head.bh * T + i] =
          row_sum[r] > 0.0f ? row_max[r] + logf(row_sum[r]) : -INFINITY;
  }
}

// S = (scale Q) K^T and dP = dO V^T for the thread's rows row_lane + 16 r of
// q_tile/do_tile and key columns key_column0 + c of k_tile/v_tile.
template <class Tiles>
__device__ __forceinline__ void score_tiles(const float* q_tile, const float* do_tile,
                                            const float* k_tile, const float* v_tile, int row_lane,
                                            int key_column0,
                                            float (&s)[Tiles::kQueryRows][Tiles::kKeyColumns],
                                            float (&dp)[Tiles::kQueryRows][Tiles::kKeyColumns]) {
  constexpr int kRows = Tiles::kQueryRows, kKeyColumns = Tiles::kKeyColumns;
  constexpr int kPitch = Tiles::kRowPitch;
  SEQTRAIN_UNROLL
  for (int r = 0; r < kRows; ++r) {
    SEQTRAIN_UNROLL
    for (int c = 0; c < kKeyColumns; ++c) s[r][c] = dp[r][c] = 0.0f;
  }
  for (int depth = 0; depth < Tiles::kHeadDim; ++depth) {
    float q[kRows], g[kRows];
    SEQTRAIN_UNROLL
    for (int r = 0; r < kRows; ++r) {
      q[r] = q_tile[(row_lane + kRowLanes * r) * kPitch + depth];
      g[r] = do_tile[(row_lane + kRowLanes * r) * kPitch + depth];
    }
    SEQTRAIN_UNROLL
    for (int c = 0; c < kKeyColumns; ++c) {
      const float k = k_tile[(key_column0 + c) * kPitch + depth];
      const float v = v_tile[(key_column0 + c) * kPitch + depth];
      SEQTRAIN_UNROLL
      for (int r = 0; r < kRows; ++r) {
        s[r][c] = fmaf(q[r], k, s[r][c]);
        dp[r][c] = fmaf(g[r], v, dp[r][c]);
      }
    }
  }
}

// ds_ij = p_ij (z_ij dp_ij - D_i) and pz_ij = p_ij z_ij in place of s and dp,
// p_ij = exp(s_ij - lse_i), zero outside i < T, j < L (and j <= i when causal).
template <class Tiles>
__device__ __forceinline__ void score_gradients(
    const AttentionDropoutParams& dropout, bool causal, const AttentionHeadView& head, int query0,
    int key0, int row_lane, int key_column0, const float (&lse)[Tiles::kQueryRows],
    const float (&delta)[Tiles::kQueryRows], float (&s)[Tiles::kQueryRows][Tiles::kKeyColumns],
    float (&dp)[Tiles::kQueryRows][Tiles::kKeyColumns]) {
  constexpr int kRows = Tiles::kQueryRows, kKeyColumns = Tiles::kKeyColumns;
  const int T = head.steps;
  SEQTRAIN_UNROLL
  for (int r = 0; r < kRows; ++r) {
    const int i = query0 + row_lane + kRowLanes * r;
    float z[kKeyColumns];
    if (dropout.probability > 0.0f) {
      attention_dropout_factors<kKeyColumns>(
          dropout, static_cast<std::uint64_t>((head.bh * T + i) * T + key0 + key_column0), z);
    } else {
      SEQTRAIN_UNROLL
      for (int c = 0; c < kKeyColumns; ++c) z[c] = 1.0f;
    }
    // Keys j < visible are unmasked for query i (causal: j <= i as well).
    const int visible = causal && i + 1 < head.length ? i + 1 : head.length;
    SEQTRAIN_UNROLL
    for (int c = 0; c < kKeyColumns; ++c) {
      const bool valid = i < T && key0 + key_column0 + c < visible;
      const float p = valid ? __expf(s[r][c] - lse[r]) : 0.0f;
      s[r][c] = p * (z[c] * dp[r][c] - delta[r]);  // ds
      dp[r][c] = p * z[c];                         // p z
    }
  }
}

// Writes D_i = dO_i . o_i of the block's query rows to `delta` (the workspace),
// then dq_i = scale sum_j ds_ij k_j for them.
template <class Storage, class Tiles>
__global__ void __launch_bounds__(kAttentionThreads)
    attention_backward_dq_kernel(const AttentionBackwardArgs<Storage> args, float* delta) {
  constexpr int kD = Tiles::kHeadDim, kBq = Tiles::kQueries, kBk = Tiles::kKeys;
  constexpr int kRows = Tiles::kQueryRows, kKeyColumns = Tiles::kKeyColumns;
  constexpr int kColumns = Tiles::kDimColumns;
  constexpr int kPitch = Tiles::kRowPitch, kScorePitch = Tiles::kScorePitch;
  SEQTRAIN_DYNAMIC_SHARED(float, shared);
  float* q_tile = shared;                  // [Bq, d]: scale q_i
  float* do_tile = q_tile + kBq * kPitch;  // [Bq, d]: dO_i
  float* k_tile = do_tile + kBq * kPitch;  // [Bk, d]
  float* v_tile = k_tile + kBk * kPitch;   // [Bk, d]
  float* ds_tile = v_tile + kBk * kPitch;  // [Bq, Bk]

  const AttentionHeadView head =
      attention_head_view(args.steps, args.heads, kD, args.key_lengths, args.bad_length);
  const int T = head.steps, L = head.length;
  const int query0 = blockIdx.x * kBq;
  const int row_lane = threadIdx.x / kColumnLanes, column_lane = threadIdx.x % kColumnLanes;
  const int key_column0 = column_lane * kKeyColumns;
  const float scale = 1.0f / sqrtf(static_cast<float>(kD));
  const Storage* qkv = args.qkv + head.q;
  const int queries = rows_in_tile(kBq, T - query0);

  load_tile<kBq, kD>(q_tile, qkv + query0 * head.token_stride, head.token_stride, queries, scale);
  load_tile<kBq, kD>(do_tile, args.dcontext + head.context + query0 * head.hidden, head.hidden,
                     queries, 1.0f);
  __syncthreads();

  float row_delta[kRows], row_lse[kRows];
  SEQTRAIN_UNROLL
  for (int r = 0; r < kRows; ++r) {
    const int row = row_lane + kRowLanes * r, i = query0 + row;
    float partial = 0.0f;
    if (i < T) {
      const Storage* o = args.context + head.context + i * head.hidden;
      SEQTRAIN_UNROLL
      for (int k = 0; k < kColumns; ++k) {
        const int column = column_lane + kColumnLanes * k;
        partial = fmaf(do_tile[row * kPitch + column], load_float(o + column), partial);
      }
    }
    row_delta[r] = row_lanes_sum(partial);
    row_lse[r] = i < T ? args.log_sum_exp[head.bh * T + i] : 0.0f;
    if (i < T && column_lane == 0) delta[head.bh * T + i] = row_delta[r];
  }

  float dq[kRows][kColumns];
  SEQTRAIN_UNROLL
  for (int r = 0; r < kRows; ++r) {
    SEQTRAIN_UNROLL
    for (int k = 0; k < kColumns; ++k) dq[r][k] = 0.0f;
  }

  const int key_end = args.causal && query0 + kBq < L ? query0 + kBq : L;  // as in forward
  for (int key0 = 0; key0 < key_end; key0 += kBk) {
    const int keys = rows_in_tile(kBk, key_end - key0);
    __syncthreads();  // the previous tile's readers of k_tile and ds_tile are done
    load_tile<kBk, kD>(k_tile, qkv + head.hidden + key0 * head.token_stride, head.token_stride,
                       keys, 1.0f);
    load_tile<kBk, kD>(v_tile, qkv + 2 * head.hidden + key0 * head.token_stride, head.token_stride,
                       keys, 1.0f);
    __syncthreads();
    float s[kRows][kKeyColumns], dp[kRows][kKeyColumns];
    score_tiles<Tiles>(q_tile, do_tile, k_tile, v_tile, row_lane, key_column0, s, dp);
    score_gradients<Tiles>(args.dropout, args.causal, head, query0, key0, row_lane, key_column0,
                           row_lse, row_delta, s, dp);
    SEQTRAIN_UNROLL
    for (int r = 0; r < kRows; ++r) {
      SEQTRAIN_UNROLL
      for (int c = 0; c < kKeyColumns; ++c)
        ds_tile[(row_lane + kRowLanes * r) * kScorePitch + key_column0 + c] = s[r][c];
    }
    __syncthreads();
    for (int j = 0; j < keys; ++j) {
      float k[kColumns];
      SEQTRAIN_UNROLL
      for (int c = 0; c < kColumns; ++c) k[c] = k_tile[j * kPitch + column_lane + kColumnLanes * c];
      SEQTRAIN_UNROLL
      for (int r = 0; r < kRows; ++r) {
        const float ds = ds_tile[(row_lane + kRowLanes * r) * kScorePitch + j];
        SEQTRAIN_UNROLL
        for (int c = 0; c < kColumns; ++c) dq[r][c] = fmaf(ds, k[c], dq[r][c]);
      }
    }
  }

  SEQTRAIN_UNROLL
  for (int r = 0; r < kRows; ++r) {
    const int i = query0 + row_lane + kRowLanes * r;
    if (i >= T) continue;
    Storage* out = args.dqkv + head.q + i * head.token_stride;
    SEQTRAIN_UNROLL
    for (int k = 0; k < kColumns; ++k)
      store_float(out + column_lane + kColumnLanes * k, scale * dq[r][k]);
  }
}

// dk_j = sum_i ds_ij (scale q_i) and dv_j = sum_i p_ij z_ij dO_i for the
// block's key rows; D_i comes from the dq kernel.
template <class Storage, class Tiles>
__global__ void __launch_bounds__(kAttentionThreads)
    attention_backward_dk_dv_kernel(const AttentionBackwardArgs<Storage> args, const float* delta) {
  constexpr int kD = Tiles::kHeadDim, kBq = Tiles::kQueries, kBk = Tiles::kKeys;
  constexpr int kRows = Tiles::kQueryRows, kKeyRows = Tiles::kKeyRows;
  constexpr int kKeyColumns = Tiles::kKeyColumns, kColumns = Tiles::kDimColumns;
  constexpr int kPitch = Tiles::kRowPitch, kScorePitch = Tiles::kScorePitch;
  SEQTRAIN_DYNAMIC_SHARED(float, shared);
  float* k_tile = shared;                        // [Bk, d]
  float* v_tile = k_tile + kBk * kPitch;         // [Bk, d]
  float* q_tile = v_tile + kBk * kPitch;         // [Bq, d]: scale q_i
  float* do_tile = q_tile + kBq * kPitch;        // [Bq, d]: dO_i
  float* pz_tile = do_tile + kBq * kPitch;       // [Bq, Bk]: p_ij z_ij
  float* ds_tile = pz_tile + kBq * kScorePitch;  // [Bq, Bk]

  const AttentionHeadView head =
      attention_head_view(args.steps, args.heads, kD, args.key_lengths, args.bad_length);
  const int T = head.steps, L = head.length;
  const int key0 = blockIdx.x * kBk;
  const int row_lane = threadIdx.x / kColumnLanes, column_lane = threadIdx.x % kColumnLanes;
  const int key_column0 = column_lane * kKeyColumns;
  const float scale = 1.0f / sqrtf(static_cast<float>(kD));
  const Storage* qkv = args.qkv + head.q;

  float dk[kKeyRows][kColumns], dv[kKeyRows][kColumns];
  SEQTRAIN_UNROLL
  for (int r = 0; r < kKeyRows; ++r) {
    SEQTRAIN_UNROLL
    for (int k = 0; k < kColumns; ++k) dk[r][k] = dv[r][k] = 0.0f;
  }

  if (key0 < L) {  // the same for the whole block: past L every gradient is zero
    const int keys = rows_in_tile(kBk, L - key0);
    load_tile<kBk, kD>(k_tile, qkv + head.hidden + key0 * head.token_stride, head.token_stride,
                       keys, 1.0f);
    load_tile<kBk, kD>(v_tile, qkv + 2 * head.hidden + key0 * head.token_stride, head.token_stride,
                       keys, 1.0f);
    // Causal: queries before key0 see none of the block's keys.
    const int first_query0 = args.causal ? key0 / kBq * kBq : 0;
    for (int query0 = first_query0; query0 < T; query0 += kBq) {
      const int queries = rows_in_tile(kBq, T - query0);
      __syncthreads();  // the previous tile's readers of q_tile, do_tile, pz_tile, ds_tile are done
      load_tile<kBq, kD>(q_tile, qkv + query0 * head.token_stride, head.token_stride, queries,
                         scale);
      load_tile<kBq, kD>(do_tile, args.dcontext + head.context + query0 * head.hidden, head.hidden,
                         queries, 1.0f);
      __syncthreads();
      float row_lse[kRows], row_delta[kRows];
      SEQTRAIN_UNROLL
      for (int r = 0; r < kRows; ++r) {
        const int i = query0 + row_lane + kRowLanes * r;
        row_lse[r] = i < T ? args.log_sum_exp[head.bh * T + i] : 0.0f;
        row_delta[r] = i < T ? delta[head.bh * T + i] : 0.0f;
      }
      float s[kRows][kKeyColumns], dp[kRows][kKeyColumns];
      score_tiles<Tiles>(q_tile, do_tile, k_tile, v_tile, row_lane, key_column0, s, dp);
      score_gradients<Tiles>(args.dropout, args.causal, head, query0, key0, row_lane,
                             key_column0, row_lse, row_delta, s, dp);
      SEQTRAIN_UNROLL
      for (int r = 0; r < kRows; ++r) {
        SEQTRAIN_UNROLL
        for (int c = 0; c < kKeyColumns; ++c) {
          const int at = (row_lane + kRowLanes * r) * kScorePitch + key_column0 + c;
          ds_tile[at] = s[r][c];
          pz_tile[at] = dp[r][c];
        }
      }
      __syncthreads();
      for (int i = 0; i < queries; ++i) {
        float q[kColumns], g[kColumns];
        SEQTRAIN_UNROLL
        for (int k = 0; k < kColumns; ++k) {
          q[k] = q_tile[i * kPitch + column_lane + kColumnLanes * k];
          g[k] = do_tile[i * kPitch + column_lane + kColumnLanes * k];
        }
        SEQTRAIN_UNROLL
        for (int r = 0; r < kKeyRows; ++r) {
          const int j = row_lane + kRowLanes * r;
          const float ds = ds_tile[i * kScorePitch + j], pz = pz_tile[i * kScorePitch + j];
          SEQTRAIN_UNROLL
          for (int k = 0; k < kColumns; ++k) {
            dk[r][k] = fmaf(ds, q[k], dk[r][k]);
            dv[r][k] = fmaf(pz, g[k], dv[r][k]);
          }
        }
      }
    }
  }

  SEQTRAIN_UNROLL
  for (int r = 0; r < kKeyRows; ++r) {
    const int j = key0 + row_lane + kRowLanes * r;
    if (j >= T) continue;
    Storage* out = args.dqkv + head.q + j * head.token_stride;
    SEQTRAIN_UNROLL
    for (int k = 0; k < kColumns; ++k) {
      const int column = column_lane + kColumnLanes * k;
      store_float(out + head.hidden + column, dk[r][k]);
      store_float(out + 2 * head.hidden + column, dv[r][k]);
    }
  }
}

namespace {

unsigned tile_count(std::int32_t steps, int tile) {
  return static_cast<unsigned>((steps + tile - 1) / tile);
}

// Shapes every entry point checks; false when there is no work.
bool check_attention_shape(const char* entry, std::int32_t batch, std::int32_t steps,
                           std::int32_t heads, std::int32_t head_dim) {
  if (!attention_supports_head_dim(head_dim))
    throw std::invalid_argument(std::string("kernels::") + entry + ": head dim " +
                                std::to_string(head_dim) + " has no kernel (32, 64 or 128)");
  if (batch < 0 || steps < 0 || heads < 0 || static_cast<std::int64_t>(batch) * heads > 65535)
    throw std::invalid_argument(std::string("kernels::") + entry + ": batch " +
                                std::to_string(batch) + " x heads " + std::to_string(heads) +
                                " must be in [0, 65535] (one grid row per (batch, head))");
  return batch > 0 && steps > 0 && heads > 0;
}

template <class Storage, class Tiles>
void launch_forward(const AttentionForwardArgs<Storage>& args, cudaStream_t stream) {
  static_assert(Tiles::forward_shared_bytes <= kAttentionSharedLimit);
  const LaunchConfig config{
      dim3(tile_count(args.steps, Tiles::kQueries), static_cast<unsigned>(args.batch * args.heads)),
      dim3(kAttentionThreads), Tiles::forward_shared_bytes, stream};
  SEQTRAIN_LAUNCH(config, attention_forward_kernel<Storage, Tiles>, args);
}

template <class Storage, class Tiles>
void launch_backward(const AttentionBackwardArgs<Storage>& args, cudaStream_t stream) {
  static_assert(Tiles::dq_shared_bytes <= kAttentionSharedLimit);
  static_assert(Tiles::dk_dv_shared_bytes <= kAttentionSharedLimit);
  float* delta = static_cast<float*>(args.workspace);
  const auto heads = static_cast<unsigned>(args.batch * args.heads);
  const LaunchConfig dq_config{dim3(tile_count(args.steps, Tiles::kQueries), heads),
                               dim3(kAttentionThreads), Tiles::dq_shared_bytes, stream};
  SEQTRAIN_LAUNCH(dq_config, attention_backward_dq_kernel<Storage, Tiles>, args, delta);
  const LaunchConfig dk_dv_config{dim3(tile_count(args.steps, Tiles::kKeys), heads),
                                  dim3(kAttentionThreads), Tiles::dk_dv_shared_bytes, stream};
  SEQTRAIN_LAUNCH(dk_dv_config, attention_backward_dk_dv_kernel<Storage, Tiles>, args,
                  static_cast<const float*>(delta));
}

template <class Storage>
void dispatch_forward(const AttentionForwardArgs<Storage>& args, cudaStream_t stream) {
  if (!check_attention_shape("attention_forward", args.batch, args.steps, args.heads,
                             args.head_dim))
    return;
  switch (args.head_dim) {
    case 32: return launch_forward<Storage, AttentionForwardTiles<32>>(args, stream);
    case 64: return launch_forward<Storage, AttentionForwardTiles<64>>(args, stream);
    default: return launch_forward<Storage, AttentionForwardTiles<128>>(args, stream);
  }
}

template <class Storage>
void dispatch_backward(const AttentionBackwardArgs<Storage>& args, cudaStream_t stream) {
  if (!check_attention_shape("attention_backward", args.batch, args.steps, args.heads,
                             args.head_dim))
    return;
  if (args.workspace == nullptr)
    throw std::invalid_argument(
        "kernels::attention_backward: no workspace (attention_workspace_bytes)");
  switch (args.head_dim) {
    case 32: return launch_backward<Storage, AttentionBackwardTiles<32>>(args, stream);
    case 64: return launch_backward<Storage, AttentionBackwardTiles<64>>(args, stream);
    default: return launch_backward<Storage, AttentionBackwardTiles<128>>(args, stream);
  }
}

}  // namespace

std::size_t attention_workspace_bytes(std::int32_t batch, std::int32_t steps, std::int32_t heads) {
  return sizeof(float) * static_cast<std::size_t>(batch) * static_cast<std::size_t>(heads) *
         static_cast<std::size_t>(steps);
}

bool attention_supports_head_dim(std::int32_t head_dim) {
  return head_dim == 32 || head_dim == 64 || head_dim == 128;
}

void attention_forward(const AttentionForwardArgs<float>& args, cudaStream_t stream) {
  dispatch_forward(args, stream);
}
void attention_forward(const AttentionForwardArgs<__nv_bfloat16>& args, cudaStream_t stream) {
  dispatch_forward(args, stream);
}
void attention_backward(const AttentionBackwardArgs<float>& args, cudaStream_t stream) {
  dispatch_backward(args, stream);
}
void attention_backward(const AttentionBackwardArgs<__nv_bfloat16>& args, cudaStream_t stream) {
  dispatch_backward(args, stream);
}

}  // namespace seqtrain::kernels
