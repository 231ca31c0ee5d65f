// Optimizer support on the cpu backend: the squared norm for gradient
// clipping and the AdamW and SGD updates, each one fused pass over the
// parameter and its state.
#include <cmath>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/parallel.h"

namespace seqtrain {

// Summed in shape-fixed blocks (parallel.h): the same value at any thread
// count, so clipping decisions and resumed runs do not depend on it.
double CpuBackend::sum_of_squares(const Tensor& x) {
  const std::int64_t n = x.numel();
  const float* data = x.data<float>();
  double* partials = reduction_scratch((n + cpu::kSumBlock - 1) / cpu::kSumBlock);
  return cpu::deterministic_sum(threads_, n, partials, [&](std::int64_t begin, std::int64_t end) {
    double sum = 0.0;
#pragma omp simd reduction(+ : sum)
    for (std::int64_t i = begin; i < end; ++i) sum += static_cast<double>(data[i]) * data[i];
    return sum;
  });
}

// m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
// p -= lr * (m / c1 / (sqrt(v / c2) + eps) + wd * p),  c_i = 1 - b_i^step
void CpuBackend::adamw_update(Tensor& parameter, const Tensor& grad, Tensor& m, Tensor& v,
                              const AdamWOptions& o) {
  const double correction1 =
      1.0 - std::pow(static_cast<double>(o.beta1), static_cast<double>(o.step));
  const double correction2 =
      1.0 - std::pow(static_cast<double>(o.beta2), static_cast<double>(o.step));
  const float inverse_correction1 = static_cast<float>(1.0 / correction1);
  const float inverse_correction2 = static_cast<float>(1.0 / correction2);
  float* p = parameter.data<float>();
  const float* g = grad.data<float>();
  float* m_data = m.data<float>();
  float* v_data = v.data<float>();
  cpu::parallel_for(
      threads_, parameter.numel(), cpu::kElementGrain,
      [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t i = begin; i < end; ++i) {
          const float m_i = o.beta1 * m_data[i] + (1.0f - o.beta1) * g[i];
          const float v_i = o.beta2 * v_data[i] + (1.0f - o.beta2) * g[i] * g[i];
          m_data[i] = m_i;
          v_data[i] = v_i;
          const float m_hat = m_i * inverse_correction1;
          const float v_hat = v_i * inverse_correction2;
          p[i] -=
              o.learning_rate * (m_hat / (std::sqrt(v_hat) + o.epsilon) + o.weight_decay * p[i]);
        }
      },
      16);
}

// velocity = momentum * velocity + grad + wd * p;  p -= lr * velocity
void CpuBackend::sgd_update(Tensor& parameter, const Tensor& grad, Tensor& velocity,
                            float learning_rate, float momentum, float weight_decay) {
  float* p = parameter.data<float>();
  const float* g = grad.data<float>();
  float* u = velocity.data<float>();
  cpu::parallel_for(
      threads_, parameter.numel(), cpu::kElementGrain,
      [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t i = begin; i < end; ++i) {
          u[i] = momentum * u[i] + g[i] + weight_decay * p[i];
          p[i] -= learning_rate * u[i];
        }
      },
      16);
}

}  // namespace seqtrain
