// Softmax, cross-entropy and mean squared error on the cpu backend. Rows are
// independent, so they are split over the pool; each row's sums are
// vectorised reductions in double whose order is fixed at compile time. The
// losses sum per-row (or per-block) terms in index order afterwards, so the
// loss does not depend on the thread count.
#include <cmath>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/parallel.h"
#include "backends/cpu/vector_math.h"

namespace seqtrain {
namespace {

std::int64_t rows_of(const Tensor& x) {
  return x.numel() / x.dim(-1);
}

float row_max(const float* row, std::int64_t width) {
  float max_value = row[0];
#pragma omp simd reduction(max : max_value)
  for (std::int64_t j = 1; j < width; ++j) max_value = std::max(max_value, row[j]);
  return max_value;
}

// sum_j exp(row[j] - shift), in double.
double sum_exp(const float* row, std::int64_t width, float shift) {
  double total = 0.0;
#pragma omp simd reduction(+ : total)
  for (std::int64_t j = 0; j < width; ++j) total += cpu::fast_exp(row[j] - shift);
  return total;
}

}  // namespace

// y = exp(x - max) / sum exp(x - max) per row: the exponentials are written to
// y while summing, then scaled in place (two passes over y, one over x).
void CpuBackend::softmax_forward(const Tensor& x, Tensor& y) {
  const std::int64_t width = x.dim(-1);
  const float* x_data = x.data<float>();
  float* y_data = y.data<float>();
  cpu::parallel_for(threads_, rows_of(x), cpu::row_grain(width),
                    [&](std::int64_t begin, std::int64_t end) {
                      for (std::int64_t r = begin; r < end; ++r) {
                        const float* in = x_data + r * width;
                        float* out = y_data + r * width;
                        const float max_value = row_max(in, width);
                        double total = 0.0;
#pragma omp simd reduction(+ : total)
                        for (std::int64_t j = 0; j < width; ++j) {
                          out[j] = cpu::fast_exp(in[j] - max_value);
                          total += out[j];
                        }
                        const float inverse = static_cast<float>(1.0 / total);
                        for (std::int64_t j = 0; j < width; ++j) out[j] *= inverse;
                      }
                    });
}

// dx = y * (dy - sum(dy * y)) per row.
void CpuBackend::softmax_backward(const Tensor& y, const Tensor& dy, Tensor& dx) {
  const std::int64_t width = y.dim(-1);
  const float* y_data = y.data<float>();
  const float* dy_data = dy.data<float>();
  float* dx_data = dx.data<float>();
  cpu::parallel_for(threads_, rows_of(y), cpu::row_grain(width),
                    [&](std::int64_t begin, std::int64_t end) {
                      for (std::int64_t r = begin; r < end; ++r) {
                        const float* y_row = y_data + r * width;
                        const float* dy_row = dy_data + r * width;
                        float* dx_row = dx_data + r * width;
                        double dot = 0.0;
#pragma omp simd reduction(+ : dot)
                        for (std::int64_t j = 0; j < width; ++j)
                          dot += static_cast<double>(dy_row[j]) * y_row[j];
                        const float dot_value = static_cast<float>(dot);
                        for (std::int64_t j = 0; j < width; ++j)
                          dx_row[j] = y_row[j] * (dy_row[j] - dot_value);
                      }
                    });
}

// Per row: lse = max + log sum exp(logit - max); the row's loss is
// lse - logit[target]. Targets are checked before any work (an exception
// cannot leave a parallel loop) and report the first bad row, as serial does.
void CpuBackend::cross_entropy_forward(const Tensor& logits, const Tensor& targets,
                                       std::int64_t ignore_index, Tensor& loss,
                                       Tensor& log_sum_exp) {
  const std::int64_t rows = logits.dim(0), classes = logits.dim(1);
  const std::int32_t* target_data = targets.data<std::int32_t>();
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::int32_t target = target_data[r];
    if (target != ignore_index && (target < 0 || target >= classes))
      throw DataError(
          fmt::format("target {} in row {} is outside the {} classes", target, r, classes));
  }
  const float* logit_data = logits.data<float>();
  float* lse_data = log_sum_exp.data<float>();
  double* row_losses = reduction_scratch(rows);
  cpu::parallel_for(threads_, rows, cpu::row_grain(classes), [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t r = begin; r < end; ++r) {
      const float* row = logit_data + r * classes;
      const float max_value = row_max(row, classes);
      const double lse = max_value + std::log(sum_exp(row, classes, max_value));
      lse_data[r] = static_cast<float>(lse);
      const std::int32_t target = target_data[r];
      row_losses[r] = target == ignore_index ? 0.0 : lse - row[target];
    }
  });
  double total = 0.0;
  std::int64_t counted = 0;
  for (std::int64_t r = 0; r < rows; ++r) {
    if (target_data[r] == ignore_index) continue;
    total += row_losses[r];
    ++counted;
  }
  loss.data<float>()[0] = counted == 0 ? 0.0f : static_cast<float>(total / counted);
}

// dlogits = dloss * (softmax(logits) - onehot(target)) / counted rows; ignored
// rows get zeros. softmax is exp(logit - lse) with lse saved by forward.
void CpuBackend::cross_entropy_backward(const Tensor& logits, const Tensor& targets,
                                        const Tensor& log_sum_exp, const Tensor& dloss,
                                        std::int64_t ignore_index, Tensor& dlogits) {
  const std::int64_t rows = logits.dim(0), classes = logits.dim(1);
  const std::int32_t* target_data = targets.data<std::int32_t>();
  std::int64_t counted = 0;
  for (std::int64_t r = 0; r < rows; ++r) counted += target_data[r] != ignore_index;
  const float row_scale =
      counted == 0 ? 0.0f : dloss.data<float>()[0] / static_cast<float>(counted);
  const float* logit_data = logits.data<float>();
  const float* lse_data = log_sum_exp.data<float>();
  float* out_data = dlogits.data<float>();
  cpu::parallel_for(threads_, rows, cpu::row_grain(classes), [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t r = begin; r < end; ++r) {
      const std::int32_t target = target_data[r];
      const float* row = logit_data + r * classes;
      float* out = out_data + r * classes;
      if (target == ignore_index) {
        for (std::int64_t j = 0; j < classes; ++j) out[j] = 0.0f;
        continue;
      }
      const float lse = lse_data[r];
      for (std::int64_t j = 0; j < classes; ++j) out[j] = cpu::fast_exp(row[j] - lse) * row_scale;
      out[target] -= row_scale;
    }
  });
}

// loss = mean((prediction - target)^2), summed in shape-fixed blocks.
void CpuBackend::mse_forward(const Tensor& prediction, const Tensor& target, Tensor& loss) {
  const std::int64_t n = prediction.numel();
  const float* p = prediction.data<float>();
  const float* t = target.data<float>();
  double* partials = reduction_scratch((n + cpu::kSumBlock - 1) / cpu::kSumBlock);
  const double total =
      cpu::deterministic_sum(threads_, n, partials, [&](std::int64_t begin, std::int64_t end) {
        double sum = 0.0;
#pragma omp simd reduction(+ : sum)
        for (std::int64_t i = begin; i < end; ++i) {
          const double difference = static_cast<double>(p[i]) - t[i];
          sum += difference * difference;
        }
        return sum;
      });
  loss.data<float>()[0] = static_cast<float>(total / static_cast<double>(n));
}

// dprediction = 2 dloss (prediction - target) / n
void CpuBackend::mse_backward(const Tensor& prediction, const Tensor& target, const Tensor& dloss,
                              Tensor& dprediction) {
  const std::int64_t n = prediction.numel();
  const float factor = 2.0f * dloss.data<float>()[0] / static_cast<float>(n);
  const float* p = prediction.data<float>();
  const float* t = target.data<float>();
  float* out = dprediction.data<float>();
  cpu::parallel_for(
      threads_, n, cpu::kElementGrain,
      [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t i = begin; i < end; ++i) out[i] = factor * (p[i] - t[i]);
      },
      16);
}

}  // namespace seqtrain
