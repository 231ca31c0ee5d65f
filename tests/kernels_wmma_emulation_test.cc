// The emulation of CUDA's warp matrix API (kernels/emu/wmma_emulation.h),
// which the tensor-core kernels run on here: one warp's D = A B + C through
// load_matrix_sync, mma_sync and store_matrix_sync, for every memory layout,
// against the product computed on the host in double; and WMMA's memory
// preconditions (32-byte aligned tiles, ldm a multiple of 16 bytes), which
// a GPU does not forgive and the emulation reports as kernel faults.
#include <cuda_bf16.h>
#include <gtest/gtest.h>

#include <cmath>
#include <type_traits>
#include <vector>

#include "kernels/launch.h"
#include "kernels/wmma_api.h"

namespace seqtrain::kernels {
namespace {

using emu::KernelFault;
namespace wmma = nvcuda::wmma;

constexpr int kTile = 16;
constexpr unsigned kOperandPitch = 24;  // bf16 rows 48 bytes apart
constexpr unsigned kFloatPitch = 20;    // fp32 rows 80 bytes apart
// Dynamic shared memory: A | B (16 x 24 bf16 each) | C | D (16 x 20 floats each).
constexpr std::size_t kOperandBytes = 2 * kTile * kOperandPitch;  // 768
constexpr std::size_t kFloatBytes = 4 * kTile * kFloatPitch;      // 1280
constexpr std::size_t kSharedBytes = 2 * kOperandBytes + 2 * kFloatBytes;

// a, b, c, d: 16 x 16 row-major in global memory, copied to and from shared
// memory as is; the fragment layouts decide how the tiles are read.
template <class ALayout, class BLayout>
__global__ void warp_matrix_product(const __nv_bfloat16* a, const __nv_bfloat16* b, const float* c,
                                    float* d, bool store_column_major) {
  SEQTRAIN_DYNAMIC_SHARED(unsigned char, shared);
  auto* a_tile = reinterpret_cast<__nv_bfloat16*>(shared);
  auto* b_tile = reinterpret_cast<__nv_bfloat16*>(shared + kOperandBytes);
  auto* c_tile = reinterpret_cast<float*>(shared + 2 * kOperandBytes);
  auto* d_tile = reinterpret_cast<float*>(shared + 2 * kOperandBytes + kFloatBytes);
  for (unsigned e = threadIdx.x; e < kTile * kTile; e += 32) {
    const unsigned row = e / kTile, column = e % kTile;
    a_tile[row * kOperandPitch + column] = a[e];
    b_tile[row * kOperandPitch + column] = b[e];
    c_tile[row * kFloatPitch + column] = c[e];
  }
  __syncwarp();
  wmma::fragment<wmma::matrix_a, kTile, kTile, kTile, __nv_bfloat16, ALayout> a_fragment;
  wmma::fragment<wmma::matrix_b, kTile, kTile, kTile, __nv_bfloat16, BLayout> b_fragment;
  wmma::fragment<wmma::accumulator, kTile, kTile, kTile, float> acc;
  wmma::load_matrix_sync(a_fragment, a_tile, kOperandPitch);
  wmma::load_matrix_sync(b_fragment, b_tile, kOperandPitch);
  wmma::load_matrix_sync(acc, c_tile, kFloatPitch, wmma::mem_row_major);
  wmma::mma_sync(acc, a_fragment, b_fragment, acc);
  wmma::store_matrix_sync(d_tile, acc, kFloatPitch,
                          store_column_major ? wmma::mem_col_major : wmma::mem_row_major);
  __syncwarp();
  for (unsigned e = threadIdx.x; e < kTile * kTile; e += 32)
    d[e] = d_tile[(e / kTile) * kFloatPitch + e % kTile];
}

struct Inputs {
  std::vector<__nv_bfloat16> a, b;
  std::vector<float> c;
};

Inputs make_inputs() {
  Inputs in;
  for (int e = 0; e < kTile * kTile; ++e) {
    in.a.push_back(__float2bfloat16(std::sin(0.37f * static_cast<float>(e)) * 1.5f));
    in.b.push_back(__float2bfloat16(std::cos(0.11f * static_cast<float>(e) + 0.3f)));
    in.c.push_back(0.01f * static_cast<float>(e % 17) - 0.08f);
  }
  return in;
}

// Element (r, c) of a 16 x 16 tile stored as memory[r][c] (row-major
// memory) read with the given fragment layout.
double element(const std::vector<__nv_bfloat16>& memory, bool column_major, int r, int c) {
  return __bfloat162float(column_major ? memory[c * kTile + r] : memory[r * kTile + c]);
}

template <class ALayout, class BLayout>
void expect_product(bool store_column_major) {
  const Inputs in = make_inputs();
  std::vector<float> d(kTile * kTile, -1.0f);
  const LaunchConfig config{dim3(1), dim3(32), kSharedBytes};
  SEQTRAIN_LAUNCH(config, warp_matrix_product<ALayout, BLayout>, in.a.data(), in.b.data(),
                  in.c.data(), d.data(), store_column_major);
  constexpr bool a_column_major = std::is_same_v<ALayout, wmma::col_major>;
  constexpr bool b_column_major = std::is_same_v<BLayout, wmma::col_major>;
  for (int r = 0; r < kTile; ++r)
    for (int c = 0; c < kTile; ++c) {
      double want = in.c[r * kTile + c];
      for (int k = 0; k < kTile; ++k)
        want += element(in.a, a_column_major, r, k) * element(in.b, b_column_major, k, c);
      // D stored column-major lands transposed in the row-major copy-out.
      const float got = store_column_major ? d[c * kTile + r] : d[r * kTile + c];
      // Products of bf16 values are exact in fp32; 16 fp32 sums round.
      ASSERT_NEAR(got, want, 1e-5 * (1.0 + std::abs(want))) << "D(" << r << ", " << c << ")";
    }
}

TEST(WmmaEmulation, MmaSyncOfLoadedTilesIsTheMatrixProductForEveryLayout) {
  expect_product<wmma::row_major, wmma::row_major>(false);
  expect_product<wmma::row_major, wmma::col_major>(false);
  expect_product<wmma::col_major, wmma::row_major>(false);
  expect_product<wmma::col_major, wmma::col_major>(true);
}

__global__ void load_tile_at(unsigned offset_elements, unsigned ldm) {
  SEQTRAIN_DYNAMIC_SHARED(__nv_bfloat16, shared);
  for (unsigned e = threadIdx.x; e < 1024; e += 32) shared[e] = __float2bfloat16(0.0f);
  __syncwarp();
  wmma::fragment<wmma::matrix_a, kTile, kTile, kTile, __nv_bfloat16, wmma::row_major> a;
  wmma::load_matrix_sync(a, shared + offset_elements, ldm);
}

TEST(WmmaEmulation, TilesMustBe32ByteAlignedWithRows16BytesApart) {
  const LaunchConfig config{dim3(1), dim3(32), 2048};
  EXPECT_NO_THROW(SEQTRAIN_LAUNCH(config, load_tile_at, 16u, 24u));  // 32 bytes in, 48-byte rows
  EXPECT_THROW(SEQTRAIN_LAUNCH(config, load_tile_at, 8u, 24u), KernelFault);   // 16 bytes in
  EXPECT_THROW(SEQTRAIN_LAUNCH(config, load_tile_at, 16u, 20u), KernelFault);  // 40-byte rows
}

}  // namespace
}  // namespace seqtrain::kernels
