// Layer normalisation over the last axis on the cpu backend.
//
// Forward, per row of x [N, D]: mean and variance by two vectorised passes
// (sums in double), then y = (x - mean) * rstd * gamma + beta in a third.
// Backward, with xhat = (x - mean) * rstd and g = dy * gamma:
//   dx     = rstd * (g - mean(g) - xhat * mean(g * xhat))     per row
//   dgamma = sum over rows of dy * xhat,  dbeta = sum over rows of dy
// Rows are grouped in blocks fixed by the shape; each block computes dx for
// its rows and, in the same pass over dy, its partial dgamma/dbeta rows in
// double. The partial rows are then added in block order, so the parameter
// gradients are the same at any thread count.
#include <cmath>
#include <cstring>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/parallel.h"

namespace seqtrain {

void CpuBackend::layernorm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                   float epsilon, Tensor& y, Tensor& mean, Tensor& rstd) {
  const std::int64_t width = x.dim(-1);
  const std::int64_t rows = x.numel() / width;
  const float* x_data = x.data<float>();
  const float* gamma_data = gamma.data<float>();
  const float* beta_data = beta.data<float>();
  float* y_data = y.data<float>();
  float* mean_data = mean.data<float>();
  float* rstd_data = rstd.data<float>();
  cpu::parallel_for(
      threads_, rows, std::max<std::int64_t>(1, cpu::kElementGrain / width),
      [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t r = begin; r < end; ++r) {
          const float* in = x_data + r * width;
          float* out = y_data + r * width;
          double sum = 0.0;
#pragma omp simd reduction(+ : sum)
          for (std::int64_t j = 0; j < width; ++j) sum += in[j];
          const double row_mean = sum / static_cast<double>(width);
          double variance = 0.0;
#pragma omp simd reduction(+ : variance)
          for (std::int64_t j = 0; j < width; ++j) {
            const double centred = in[j] - row_mean;
            variance += centred * centred;
          }
          variance /= static_cast<double>(width);
          const float row_mean_value = static_cast<float>(row_mean);
          const float row_rstd = static_cast<float>(1.0 / std::sqrt(variance + epsilon));
          mean_data[r] = row_mean_value;
          rstd_data[r] = row_rstd;
          for (std::int64_t j = 0; j < width; ++j)
            out[j] = (in[j] - row_mean_value) * row_rstd * gamma_data[j] + beta_data[j];
        }
      });
}

void CpuBackend::layernorm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean,
                                    const Tensor& rstd, const Tensor& dy, Tensor& dx,
                                    Tensor& dgamma, Tensor& dbeta) {
  const std::int64_t width = x.dim(-1);
  const std::int64_t rows = x.numel() / width;
  float* dgamma_data = dgamma.data<float>();
  float* dbeta_data = dbeta.data<float>();
  if (rows == 0) {
    std::memset(dgamma_data, 0, static_cast<std::size_t>(width) * sizeof(float));
    std::memset(dbeta_data, 0, static_cast<std::size_t>(width) * sizeof(float));
    return;
  }
  const std::int64_t row_block = cpu::reduction_row_block(rows, 16);
  const std::int64_t blocks = (rows + row_block - 1) / row_block;
  // [blocks, width] partial dgamma rows, then [blocks, width] partial dbeta rows.
  double* gamma_partials = reduction_scratch(2 * blocks * width);
  double* beta_partials = gamma_partials + blocks * width;
  const float* x_data = x.data<float>();
  const float* gamma_data = gamma.data<float>();
  const float* mean_data = mean.data<float>();
  const float* rstd_data = rstd.data<float>();
  const float* dy_data = dy.data<float>();
  float* dx_data = dx.data<float>();
  const double inverse_width = 1.0 / static_cast<double>(width);
  cpu::parallel_for(threads_, blocks, 1, [&](std::int64_t first_block, std::int64_t last_block) {
    for (std::int64_t block = first_block; block < last_block; ++block) {
      double* gamma_sums = gamma_partials + block * width;
      double* beta_sums = beta_partials + block * width;
      for (std::int64_t j = 0; j < width; ++j) gamma_sums[j] = beta_sums[j] = 0.0;
      const std::int64_t row_end = std::min(rows, (block + 1) * row_block);
      for (std::int64_t r = block * row_block; r < row_end; ++r) {
        const float* in = x_data + r * width;
        const float* grad = dy_data + r * width;
        float* out = dx_data + r * width;
        const float row_mean = mean_data[r], row_rstd = rstd_data[r];
        double g_sum = 0.0, gx_sum = 0.0;
#pragma omp simd reduction(+ : g_sum, gx_sum)
        for (std::int64_t j = 0; j < width; ++j) {
          const float xhat = (in[j] - row_mean) * row_rstd;
          const float g = grad[j] * gamma_data[j];
          g_sum += g;
          gx_sum += static_cast<double>(g) * xhat;
          gamma_sums[j] += static_cast<double>(grad[j]) * xhat;
          beta_sums[j] += grad[j];
        }
        const float g_mean = static_cast<float>(g_sum * inverse_width);
        const float gx_mean = static_cast<float>(gx_sum * inverse_width);
        for (std::int64_t j = 0; j < width; ++j) {
          const float xhat = (in[j] - row_mean) * row_rstd;
          out[j] = row_rstd * (grad[j] * gamma_data[j] - g_mean - xhat * gx_mean);
        }
      }
    }
  });
  cpu::combine_column_partials(threads_, gamma_partials, blocks, width, dgamma_data);
  cpu::combine_column_partials(threads_, beta_partials, blocks, width, dbeta_data);
}

}  // namespace seqtrain
