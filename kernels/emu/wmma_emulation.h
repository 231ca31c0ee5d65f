// CUDA's warp matrix API (nvcuda::wmma, <mma.h>) as host C++, for the
// emulation of kernels that use tensor cores (kernels/wmma_api.h includes this
// when the compiler is not nvcc). The 16 x 16 x 16 shape with __nv_bfloat16 or
// __half inputs and float accumulators, which is all sm_80 kernels need for
// bf16/fp16 products:
//
//   fragment<matrix_a, 16, 16, 16, T, row_major|col_major>   A, m x k
//   fragment<matrix_b, 16, 16, 16, T, row_major|col_major>   B, k x n
//   fragment<accumulator, 16, 16, 16, float>                 C, D, m x n
//   fill_fragment, load_matrix_sync, store_matrix_sync, mma_sync (D = A B + C)
//
// WMMA leaves the distribution of a fragment's elements over the 32 lanes to
// the implementation (the CUDA programming guide: "the mapping of matrix
// elements into fragment's storage is unspecified"), so kernels may apply only
// the same operation to every x[i]. The emulation picks the simplest layout:
// every lane holds the whole tile, row-major (x[r * cols + c]; num_elements is
// 256, where a GPU lane holds 8). Loads and mma_sync are then lane-local: each
// lane reads the whole tile and computes the whole product (fp32 products of
// the exactly widened 16-bit inputs, summed in k order; a tensor core sums in
// its own order, so results agree within fp32 rounding). store_matrix_sync
// writes each element from one lane only (element e from lane e % 32), as on
// a GPU where every lane writes its part: a kernel that reads what other
// lanes stored without a __syncwarp() between may read stale values here too.
//
// WMMA's preconditions on memory are checked (the CUDA C++ Programming Guide,
// "Warp Matrix Functions"): a tile pointer 256-bit (32-byte) aligned and ldm a
// multiple of 16 bytes; a violation throws, which the emulation reports as a
// KernelFault. A pointer into the launch's dynamic shared memory is checked
// as an offset from its start, which on a GPU is the aligned base of the
// block's shared memory (here the buffer is only 16-byte aligned).
//
// Not emulated: other shapes (m32n8k16, m8n32k16, tf32, integer, sub-byte),
// and the check that all 32 lanes call each operation together (the kernel's
// own __syncwarp / __syncthreads calls still catch divergent warps).
#pragma once

#if defined(__CUDACC__)
#error "kernels/emu/wmma_emulation.h is for host compilers; nvcc uses <mma.h>"
#endif

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "kernels/emu/emulator.h"
#include "kernels/emu/thread_context.h"

namespace nvcuda::wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};

enum layout_t { mem_row_major, mem_col_major };

namespace detail {

inline float widen(float value) {
  return value;
}
inline float widen(__nv_bfloat16 value) {
  return __bfloat162float(value);
}
inline float widen(__half value) {
  return __half2float(value);
}

template <class Use, int M, int N, int K>
struct FragmentShape;
template <int M, int N, int K>
struct FragmentShape<matrix_a, M, N, K> {
  static constexpr int rows = M, cols = K;
};
template <int M, int N, int K>
struct FragmentShape<matrix_b, M, N, K> {
  static constexpr int rows = K, cols = N;
};
template <int M, int N, int K>
struct FragmentShape<accumulator, M, N, K> {
  static constexpr int rows = M, cols = N;
};

inline unsigned lane() {
  return seqtrain::emu::current_thread % 32u;
}

inline void check_matrix_memory(const void* p, unsigned ldm, std::size_t element_bytes,
                                const char* operation) {
  auto address = reinterpret_cast<std::uintptr_t>(p);
  const auto shared = reinterpret_cast<std::uintptr_t>(seqtrain::emu::dynamic_shared_memory());
  if (address >= shared && address - shared < seqtrain::emu::dynamic_shared_memory_bytes())
    address -= shared;
  if (address % 32 != 0)
    throw std::invalid_argument(std::string("wmma::") + operation +
                                ": the tile pointer must be 32-byte aligned (it is " +
                                std::to_string(address % 32) + " bytes past a 32-byte boundary)");
  if (ldm * element_bytes % 16 != 0)
    throw std::invalid_argument(std::string("wmma::") + operation + ": ldm " + std::to_string(ldm) +
                                " is not a multiple of 16 bytes");
}

}  // namespace detail

template <class Use, int M, int N, int K, class T, class Layout = void>
class fragment {
  static_assert(M == 16 && N == 16 && K == 16,
                "the emulated WMMA has the m16n16k16 shape only (kernels/emu/wmma_emulation.h)");
  static_assert(std::is_same_v<Use, accumulator>
                    ? std::is_same_v<T, float>
                    : (std::is_same_v<T, __nv_bfloat16> || std::is_same_v<T, __half>),
                "emulated WMMA: bf16 or fp16 inputs, float accumulators");

 public:
  using element_type = T;
  using storage_element_type = T;
  static constexpr int rows = detail::FragmentShape<Use, M, N, K>::rows;
  static constexpr int cols = detail::FragmentShape<Use, M, N, K>::cols;
  static constexpr int num_elements = rows * cols;
  T x[num_elements];
};

template <class Use, int M, int N, int K, class T, class Layout>
void fill_fragment(fragment<Use, M, N, K, T, Layout>& a, const T& value) {
  for (auto& element : a.x) element = value;
}

// A or B from memory: element (r, c) of the fragment's rows x cols matrix at
// p[r * ldm + c] (row_major) or p[c * ldm + r] (col_major).
template <class Use, int M, int N, int K, class T, class Layout>
void load_matrix_sync(fragment<Use, M, N, K, T, Layout>& a, const T* p, unsigned ldm) {
  static_assert(std::is_same_v<Layout, row_major> || std::is_same_v<Layout, col_major>,
                "matrix_a / matrix_b fragments name their memory layout");
  using Fragment = fragment<Use, M, N, K, T, Layout>;
  detail::check_matrix_memory(p, ldm, sizeof(T), "load_matrix_sync");
  for (int r = 0; r < Fragment::rows; ++r)
    for (int c = 0; c < Fragment::cols; ++c)
      a.x[r * Fragment::cols + c] =
          std::is_same_v<Layout, row_major> ? p[r * ldm + c] : p[c * ldm + r];
}

template <int M, int N, int K>
void load_matrix_sync(fragment<accumulator, M, N, K, float>& a, const float* p, unsigned ldm,
                      layout_t layout) {
  detail::check_matrix_memory(p, ldm, sizeof(float), "load_matrix_sync");
  for (int r = 0; r < M; ++r)
    for (int c = 0; c < N; ++c)
      a.x[r * N + c] = layout == mem_row_major ? p[r * ldm + c] : p[c * ldm + r];
}

template <int M, int N, int K>
void store_matrix_sync(float* p, const fragment<accumulator, M, N, K, float>& a, unsigned ldm,
                       layout_t layout) {
  detail::check_matrix_memory(p, ldm, sizeof(float), "store_matrix_sync");
  for (unsigned e = detail::lane(); e < static_cast<unsigned>(M * N); e += 32) {
    const unsigned r = e / N, c = e % N;
    (layout == mem_row_major ? p[r * ldm + c] : p[c * ldm + r]) = a.x[e];
  }
}

// d = a b + c, fp32 accumulation; d may be c.
template <int M, int N, int K, class T, class LayoutA, class LayoutB>
void mma_sync(fragment<accumulator, M, N, K, float>& d,
              const fragment<matrix_a, M, N, K, T, LayoutA>& a,
              const fragment<matrix_b, M, N, K, T, LayoutB>& b,
              const fragment<accumulator, M, N, K, float>& c) {
  float a_values[M * K], b_values[K * N];
  for (int e = 0; e < M * K; ++e) a_values[e] = detail::widen(a.x[e]);
  for (int e = 0; e < K * N; ++e) b_values[e] = detail::widen(b.x[e]);
  for (int r = 0; r < M; ++r)
    for (int col = 0; col < N; ++col) {
      float sum = c.x[r * N + col];
      for (int k = 0; k < K; ++k) sum += a_values[r * K + k] * b_values[k * N + col];
      d.x[r * N + col] = sum;
    }
}

}  // namespace nvcuda::wmma
