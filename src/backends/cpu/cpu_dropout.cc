// Dropout on the cpu backend: the same mask as every other backend.
//
// keep_i = philox_uniform(seed, stream, step, first_index + i) >= p,
// mask_i = keep_i / (1 - p), y_i = x_i * mask_i. Global element g = first_index
// + i takes word g & 3 of the Philox block g >> 2, so one philox4x32 call
// serves up to four elements and any split of the index range (any thread
// count, any first_index) draws exactly the same numbers.
#include <array>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/parallel.h"
#include "seqtrain/rng.h"

namespace seqtrain {

void CpuBackend::dropout_forward(const Tensor& x, float probability, std::uint64_t seed,
                                 std::uint64_t stream, std::uint64_t step,
                                 std::uint64_t first_index, Tensor& y, Tensor& mask) {
  const std::int64_t n = x.numel();
  const float keep_scale = 1.0f / (1.0f - probability);
  const float* x_data = x.data<float>();
  float* y_data = y.data<float>();
  float* mask_data = mask.data<float>();
  if (probability == 0.0f) {
    cpu::parallel_for(
        threads_, n, cpu::kElementGrain,
        [&](std::int64_t begin, std::int64_t end) {
          for (std::int64_t i = begin; i < end; ++i) {
            mask_data[i] = keep_scale;
            y_data[i] = x_data[i] * keep_scale;
          }
        },
        16);
    return;
  }
  // With first_index a multiple of 4, pieces start at multiples of 16
  // elements and each Philox block lies in one piece; otherwise a block
  // straddling two pieces is drawn by both.
  cpu::parallel_for(
      threads_, n, cpu::kElementGrain / 4,
      [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t i = begin; i < end;) {
          const std::uint64_t global = first_index + static_cast<std::uint64_t>(i);
          const std::array<std::uint32_t, 4> bits =
              philox4x32(seed, stream, (step << 40) | (global >> 2));
          for (std::uint64_t lane = global & 3; lane < 4 && i < end; ++lane, ++i) {
            const float factor = bits_to_uniform(bits[lane]) >= probability ? keep_scale : 0.0f;
            mask_data[i] = factor;
            y_data[i] = x_data[i] * factor;
          }
        }
      },
      16);
}

}  // namespace seqtrain
