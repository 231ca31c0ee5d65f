// Dropout on the cpu backend: the same mask as every other backend.
//
// keep_i = philox_uniform(seed, stream, step, i) >= p, mask_i = keep_i / (1 - p),
// y_i = x_i * mask_i. Element i's uniform is word i & 3 of the Philox block
// i >> 2, so one philox4x32 call serves four elements and any split of the
// index range (any thread count) draws exactly the same numbers.
#include <array>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/parallel.h"
#include "seqtrain/rng.h"

namespace seqtrain {

void CpuBackend::dropout_forward(const Tensor& x, float probability, std::uint64_t seed,
                                 std::uint64_t stream, std::uint64_t step, Tensor& y,
                                 Tensor& mask) {
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
  // Pieces start at multiples of 16 elements, so each Philox block of four
  // lies in one piece.
  cpu::parallel_for(
      threads_, n, cpu::kElementGrain / 4,
      [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t first = begin; first < end; first += 4) {
          const std::uint64_t block = static_cast<std::uint64_t>(first) >> 2;
          const std::array<std::uint32_t, 4> bits = philox4x32(seed, stream, (step << 40) | block);
          const std::int64_t count = std::min<std::int64_t>(4, end - first);
          for (std::int64_t lane = 0; lane < count; ++lane) {
            const float factor = bits_to_uniform(bits[lane]) >= probability ? keep_scale : 0.0f;
            mask_data[first + lane] = factor;
            y_data[first + lane] = x_data[first + lane] * factor;
          }
        }
      },
      16);
}

}  // namespace seqtrain
