// Serial backend: memory, GEMM, element-wise arithmetic, activations, softmax,
// losses, layernorm, dropout, embedding and reshaping, as plain loops.
#include "backends/serial/serial_backend.h"

#include <cmath>
#include <cstring>

#include "seqtrain/activation_math.h"
#include "seqtrain/bfloat16.h"
#include "seqtrain/rng.h"

namespace seqtrain {
namespace {

std::int64_t rows_of(const Tensor& x) { return x.numel() / x.dim(-1); }

}  // namespace

std::unique_ptr<Backend> make_serial_backend() { return std::make_unique<SerialBackend>(); }

Tensor SerialBackend::allocate(const Shape& shape, DType dtype) { return Tensor::empty(shape, dtype); }

void SerialBackend::copy_from_host(const Tensor& host, Tensor& target) {
  SEQTRAIN_CHECK(host.bytes() == target.bytes(), "copy of {} bytes into {}", host.bytes(),
                 target.bytes());
  if (host.bytes() > 0 && host.raw() != target.raw())
    std::memcpy(target.raw(), host.raw(), host.bytes());
}

void SerialBackend::copy_to_host(const Tensor& source, Tensor& host) {
  copy_from_host(source, host);
}

void SerialBackend::fill_zero(Tensor& x) { x.fill_zero(); }

void SerialBackend::set_gemm_precision(Precision precision) { gemm_precision_ = precision; }

void SerialBackend::matmul(const Tensor& a, const Tensor& b, Tensor& c, bool transpose_a,
                           bool transpose_b, float alpha, float beta) {
  // bf16 precision: each operand rounded to bf16 as it enters the product.
  const bool bf16 = gemm_precision_ == Precision::bf16;
  // Batched over a's leading axis; b is shared when it has rank 2.
  const std::int64_t batch = a.rank() == 3 ? a.dim(0) : 1;
  const std::int64_t a_rows = a.dim(-2), a_cols = a.dim(-1);
  const std::int64_t b_rows = b.dim(-2), b_cols = b.dim(-1);
  const std::int64_t m = transpose_a ? a_cols : a_rows;
  const std::int64_t k = transpose_a ? a_rows : a_cols;
  const std::int64_t n = transpose_b ? b_rows : b_cols;
  const float* a_data = a.data<float>();
  const float* b_data = b.data<float>();
  float* c_data = c.data<float>();
  for (std::int64_t batch_index = 0; batch_index < batch; ++batch_index) {
    const float* a_matrix = a_data + batch_index * a_rows * a_cols;
    const float* b_matrix = b_data + (b.rank() == 3 ? batch_index * b_rows * b_cols : 0);
    float* c_matrix = c_data + batch_index * m * n;
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < n; ++j) {
        double sum = 0.0;
        for (std::int64_t p = 0; p < k; ++p) {
          float a_value = transpose_a ? a_matrix[p * a_cols + i] : a_matrix[i * a_cols + p];
          float b_value = transpose_b ? b_matrix[j * b_cols + p] : b_matrix[p * b_cols + j];
          if (bf16) {
            a_value = round_to_bf16(a_value);
            b_value = round_to_bf16(b_value);
          }
          sum += static_cast<double>(a_value) * b_value;
        }
        float previous = beta == 0.0f ? 0.0f : beta * c_matrix[i * n + j];
        c_matrix[i * n + j] = alpha * static_cast<float>(sum) + previous;
      }
  }
}

void SerialBackend::bias_add(const Tensor& x, const Tensor& bias, Tensor& out) {
  const std::int64_t width = bias.numel();
  const float* x_data = x.data<float>();
  const float* bias_data = bias.data<float>();
  float* out_data = out.data<float>();
  for (std::int64_t i = 0; i < x.numel(); ++i) out_data[i] = x_data[i] + bias_data[i % width];
}

void SerialBackend::bias_grad(const Tensor& dy, Tensor& bias_grad) {
  const std::int64_t width = bias_grad.numel();
  std::vector<double> sums(static_cast<std::size_t>(width), 0.0);
  const float* dy_data = dy.data<float>();
  for (std::int64_t i = 0; i < dy.numel(); ++i) sums[i % width] += dy_data[i];
  for (std::int64_t j = 0; j < width; ++j) bias_grad.data<float>()[j] = static_cast<float>(sums[j]);
}

void SerialBackend::add(const Tensor& a, const Tensor& b, Tensor& out) {
  for (std::int64_t i = 0; i < a.numel(); ++i)
    out.data<float>()[i] = a.data<float>()[i] + b.data<float>()[i];
}

void SerialBackend::mul(const Tensor& a, const Tensor& b, Tensor& out) {
  for (std::int64_t i = 0; i < a.numel(); ++i)
    out.data<float>()[i] = a.data<float>()[i] * b.data<float>()[i];
}

void SerialBackend::scale(const Tensor& x, float factor, Tensor& out) {
  for (std::int64_t i = 0; i < x.numel(); ++i) out.data<float>()[i] = x.data<float>()[i] * factor;
}

void SerialBackend::accumulate(const Tensor& x, Tensor& target) {
  for (std::int64_t i = 0; i < x.numel(); ++i) target.data<float>()[i] += x.data<float>()[i];
}

void SerialBackend::activation_forward(Activation activation, const Tensor& x, Tensor& y) {
  for (std::int64_t i = 0; i < x.numel(); ++i)
    y.data<float>()[i] = activation_value(activation, x.data<float>()[i]);
}

void SerialBackend::activation_backward(Activation activation, const Tensor& x, const Tensor& y,
                                        const Tensor& dy, Tensor& dx) {
  for (std::int64_t i = 0; i < x.numel(); ++i)
    dx.data<float>()[i] =
        dy.data<float>()[i] * activation_derivative(activation, x.data<float>()[i], y.data<float>()[i]);
}

void SerialBackend::softmax_forward(const Tensor& x, Tensor& y) {
  const std::int64_t width = x.dim(-1);
  for (std::int64_t r = 0; r < rows_of(x); ++r) {
    const float* in = x.data<float>() + r * width;
    float* out = y.data<float>() + r * width;
    float max_value = in[0];
    for (std::int64_t j = 1; j < width; ++j) max_value = std::max(max_value, in[j]);
    double total = 0.0;
    for (std::int64_t j = 0; j < width; ++j) total += std::exp(in[j] - max_value);
    for (std::int64_t j = 0; j < width; ++j)
      out[j] = static_cast<float>(std::exp(in[j] - max_value) / total);
  }
}

// dx = y * (dy - sum(dy * y))
void SerialBackend::softmax_backward(const Tensor& y, const Tensor& dy, Tensor& dx) {
  const std::int64_t width = y.dim(-1);
  for (std::int64_t r = 0; r < rows_of(y); ++r) {
    const float* y_row = y.data<float>() + r * width;
    const float* dy_row = dy.data<float>() + r * width;
    double dot = 0.0;
    for (std::int64_t j = 0; j < width; ++j) dot += static_cast<double>(dy_row[j]) * y_row[j];
    for (std::int64_t j = 0; j < width; ++j)
      dx.data<float>()[r * width + j] = y_row[j] * (dy_row[j] - static_cast<float>(dot));
  }
}

void SerialBackend::cross_entropy_forward(const Tensor& logits, const Tensor& targets,
                                          std::int64_t ignore_index, Tensor& loss,
                                          Tensor& log_sum_exp) {
  const std::int64_t rows = logits.dim(0), classes = logits.dim(1);
  double total = 0.0;
  std::int64_t counted = 0;
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* row = logits.data<float>() + r * classes;
    float max_value = row[0];
    for (std::int64_t j = 1; j < classes; ++j) max_value = std::max(max_value, row[j]);
    double sum = 0.0;
    for (std::int64_t j = 0; j < classes; ++j) sum += std::exp(static_cast<double>(row[j] - max_value));
    const double lse = max_value + std::log(sum);
    log_sum_exp.data<float>()[r] = static_cast<float>(lse);
    const std::int32_t target = targets.data<std::int32_t>()[r];
    if (target == ignore_index) continue;
    if (target < 0 || target >= classes)
      throw DataError(fmt::format("target {} in row {} is outside the {} classes", target, r, classes));
    total += lse - row[target];
    ++counted;
  }
  loss.data<float>()[0] = counted == 0 ? 0.0f : static_cast<float>(total / counted);
}

// dlogits = dloss * (softmax(logits) - onehot(target)) / counted rows
void SerialBackend::cross_entropy_backward(const Tensor& logits, const Tensor& targets,
                                           const Tensor& log_sum_exp, const Tensor& dloss,
                                           std::int64_t ignore_index, Tensor& dlogits) {
  const std::int64_t rows = logits.dim(0), classes = logits.dim(1);
  std::int64_t counted = 0;
  for (std::int64_t r = 0; r < rows; ++r) counted += targets.data<std::int32_t>()[r] != ignore_index;
  const float row_scale = counted == 0 ? 0.0f : dloss.data<float>()[0] / static_cast<float>(counted);
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::int32_t target = targets.data<std::int32_t>()[r];
    float* out = dlogits.data<float>() + r * classes;
    const float* row = logits.data<float>() + r * classes;
    for (std::int64_t j = 0; j < classes; ++j) {
      out[j] = target == ignore_index
                   ? 0.0f
                   : (std::exp(row[j] - log_sum_exp.data<float>()[r]) - (j == target ? 1.0f : 0.0f)) *
                         row_scale;
    }
  }
}

void SerialBackend::mse_forward(const Tensor& prediction, const Tensor& target, Tensor& loss) {
  double total = 0.0;
  for (std::int64_t i = 0; i < prediction.numel(); ++i) {
    double difference = prediction.data<float>()[i] - target.data<float>()[i];
    total += difference * difference;
  }
  loss.data<float>()[0] = static_cast<float>(total / static_cast<double>(prediction.numel()));
}

void SerialBackend::mse_backward(const Tensor& prediction, const Tensor& target,
                                 const Tensor& dloss, Tensor& dprediction) {
  const float factor = 2.0f * dloss.data<float>()[0] / static_cast<float>(prediction.numel());
  for (std::int64_t i = 0; i < prediction.numel(); ++i)
    dprediction.data<float>()[i] = factor * (prediction.data<float>()[i] - target.data<float>()[i]);
}

void SerialBackend::layernorm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                      float epsilon, Tensor& y, Tensor& mean, Tensor& rstd) {
  const std::int64_t width = x.dim(-1);
  for (std::int64_t r = 0; r < rows_of(x); ++r) {
    const float* in = x.data<float>() + r * width;
    double sum = 0.0;
    for (std::int64_t j = 0; j < width; ++j) sum += in[j];
    const double row_mean = sum / width;
    double variance = 0.0;
    for (std::int64_t j = 0; j < width; ++j) variance += (in[j] - row_mean) * (in[j] - row_mean);
    variance /= width;
    const double row_rstd = 1.0 / std::sqrt(variance + epsilon);
    mean.data<float>()[r] = static_cast<float>(row_mean);
    rstd.data<float>()[r] = static_cast<float>(row_rstd);
    for (std::int64_t j = 0; j < width; ++j)
      y.data<float>()[r * width + j] = static_cast<float>((in[j] - row_mean) * row_rstd) *
                                           gamma.data<float>()[j] + beta.data<float>()[j];
  }
}

// With xhat = (x - mean) * rstd and g = dy * gamma:
//   dx = rstd * (g - mean(g) - xhat * mean(g * xhat))
//   dgamma = sum over rows of dy * xhat, dbeta = sum over rows of dy
void SerialBackend::layernorm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean,
                                       const Tensor& rstd, const Tensor& dy, Tensor& dx,
                                       Tensor& dgamma, Tensor& dbeta) {
  const std::int64_t width = x.dim(-1);
  std::vector<double> gamma_sums(static_cast<std::size_t>(width), 0.0);
  std::vector<double> beta_sums(static_cast<std::size_t>(width), 0.0);
  for (std::int64_t r = 0; r < rows_of(x); ++r) {
    const float* in = x.data<float>() + r * width;
    const float* grad = dy.data<float>() + r * width;
    const double row_mean = mean.data<float>()[r], row_rstd = rstd.data<float>()[r];
    double g_mean = 0.0, gx_mean = 0.0;
    for (std::int64_t j = 0; j < width; ++j) {
      const double xhat = (in[j] - row_mean) * row_rstd;
      const double g = static_cast<double>(grad[j]) * gamma.data<float>()[j];
      g_mean += g;
      gx_mean += g * xhat;
      gamma_sums[j] += grad[j] * xhat;
      beta_sums[j] += grad[j];
    }
    g_mean /= width;
    gx_mean /= width;
    for (std::int64_t j = 0; j < width; ++j) {
      const double xhat = (in[j] - row_mean) * row_rstd;
      const double g = static_cast<double>(grad[j]) * gamma.data<float>()[j];
      dx.data<float>()[r * width + j] = static_cast<float>(row_rstd * (g - g_mean - xhat * gx_mean));
    }
  }
  for (std::int64_t j = 0; j < width; ++j) {
    dgamma.data<float>()[j] = static_cast<float>(gamma_sums[j]);
    dbeta.data<float>()[j] = static_cast<float>(beta_sums[j]);
  }
}

void SerialBackend::dropout_forward(const Tensor& x, float probability, std::uint64_t seed,
                                    std::uint64_t stream, std::uint64_t step,
                                    std::uint64_t first_index, Tensor& y, Tensor& mask) {
  const float keep_scale = 1.0f / (1.0f - probability);
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    bool keep = probability == 0.0f ||
                philox_uniform(seed, stream, step, first_index + static_cast<std::uint64_t>(i)) >=
                    probability;
    float factor = keep ? keep_scale : 0.0f;
    mask.data<float>()[i] = factor;
    y.data<float>()[i] = x.data<float>()[i] * factor;
  }
}

void SerialBackend::embedding_forward(const Tensor& table, const Tensor& ids, Tensor& out) {
  const std::int64_t vocabulary = table.dim(0), width = table.dim(1);
  for (std::int64_t i = 0; i < ids.numel(); ++i) {
    const std::int32_t id = ids.data<std::int32_t>()[i];
    if (id < 0 || id >= vocabulary)
      throw DataError(fmt::format("token id {} at position {} is outside the vocabulary of {}", id,
                                  i, vocabulary));
    for (std::int64_t j = 0; j < width; ++j)
      out.data<float>()[i * width + j] = table.data<float>()[id * width + j];
  }
}

void SerialBackend::embedding_backward(const Tensor& ids, const Tensor& dout, Tensor& dtable) {
  const std::int64_t width = dtable.dim(1);
  dtable.fill_zero();
  for (std::int64_t i = 0; i < ids.numel(); ++i) {
    const std::int32_t id = ids.data<std::int32_t>()[i];
    for (std::int64_t j = 0; j < width; ++j)
      dtable.data<float>()[id * width + j] += dout.data<float>()[i * width + j];
  }
}

void SerialBackend::transpose01(const Tensor& x, Tensor& out) {
  const std::int64_t d0 = x.dim(0), d1 = x.dim(1), d2 = x.dim(2);
  const std::size_t element = dtype_size(x.dtype());
  const auto* in = static_cast<const std::byte*>(x.raw());
  auto* result = static_cast<std::byte*>(out.raw());
  for (std::int64_t i = 0; i < d0; ++i)
    for (std::int64_t j = 0; j < d1; ++j)
      std::memcpy(result + ((j * d0 + i) * d2) * element, in + ((i * d1 + j) * d2) * element,
                  d2 * element);
}

void SerialBackend::concat_last(const Tensor& a, const Tensor& b, Tensor& out) {
  const std::int64_t wa = a.dim(-1), wb = b.dim(-1);
  for (std::int64_t r = 0; r < rows_of(a); ++r) {
    for (std::int64_t j = 0; j < wa; ++j) out.data<float>()[r * (wa + wb) + j] = a.data<float>()[r * wa + j];
    for (std::int64_t j = 0; j < wb; ++j)
      out.data<float>()[r * (wa + wb) + wa + j] = b.data<float>()[r * wb + j];
  }
}

void SerialBackend::split_last(const Tensor& x, Tensor& a, Tensor& b) {
  const std::int64_t wa = a.dim(-1), wb = b.dim(-1);
  for (std::int64_t r = 0; r < rows_of(x); ++r) {
    for (std::int64_t j = 0; j < wa; ++j) a.data<float>()[r * wa + j] = x.data<float>()[r * (wa + wb) + j];
    for (std::int64_t j = 0; j < wb; ++j)
      b.data<float>()[r * wb + j] = x.data<float>()[r * (wa + wb) + wa + j];
  }
}

namespace {

std::int64_t last_step(const Tensor& lengths, std::int64_t row, std::int64_t steps, bool reverse) {
  const std::int32_t length = lengths.data<std::int32_t>()[row];
  if (length < 1 || length > steps)
    throw DataError(fmt::format("sequence {} has length {}, outside [1, {}]", row, length, steps));
  return reverse ? 0 : length - 1;
}

}  // namespace

void SerialBackend::sequence_last(const Tensor& x, const Tensor& lengths, bool reverse, Tensor& out) {
  const std::int64_t steps = x.dim(0), batch = x.dim(1), width = x.dim(2);
  for (std::int64_t b = 0; b < batch; ++b) {
    const std::int64_t t = last_step(lengths, b, steps, reverse);
    for (std::int64_t j = 0; j < width; ++j)
      out.data<float>()[b * width + j] = x.data<float>()[(t * batch + b) * width + j];
  }
}

void SerialBackend::sequence_last_backward(const Tensor& dout, const Tensor& lengths, bool reverse,
                                           Tensor& dx) {
  const std::int64_t steps = dx.dim(0), batch = dx.dim(1), width = dx.dim(2);
  dx.fill_zero();
  for (std::int64_t b = 0; b < batch; ++b) {
    const std::int64_t t = last_step(lengths, b, steps, reverse);
    for (std::int64_t j = 0; j < width; ++j)
      dx.data<float>()[(t * batch + b) * width + j] = dout.data<float>()[b * width + j];
  }
}

double SerialBackend::sum_of_squares(const Tensor& x) {
  double total = 0.0;
  for (float value : x.span<float>()) total += static_cast<double>(value) * value;
  return total;
}

void SerialBackend::adamw_update(Tensor& parameter, const Tensor& grad, Tensor& m, Tensor& v,
                                 const AdamWOptions& o) {
  const double correction1 = 1.0 - std::pow(static_cast<double>(o.beta1), static_cast<double>(o.step));
  const double correction2 = 1.0 - std::pow(static_cast<double>(o.beta2), static_cast<double>(o.step));
  for (std::int64_t i = 0; i < parameter.numel(); ++i) {
    float& p = parameter.data<float>()[i];
    const float g = grad.data<float>()[i];
    float& m_i = m.data<float>()[i];
    float& v_i = v.data<float>()[i];
    m_i = o.beta1 * m_i + (1.0f - o.beta1) * g;
    v_i = o.beta2 * v_i + (1.0f - o.beta2) * g * g;
    const float m_hat = static_cast<float>(m_i / correction1);
    const float v_hat = static_cast<float>(v_i / correction2);
    p -= o.learning_rate * (m_hat / (std::sqrt(v_hat) + o.epsilon) + o.weight_decay * p);
  }
}

void SerialBackend::sgd_update(Tensor& parameter, const Tensor& grad, Tensor& velocity,
                               float learning_rate, float momentum, float weight_decay) {
  for (std::int64_t i = 0; i < parameter.numel(); ++i) {
    float& p = parameter.data<float>()[i];
    float& u = velocity.data<float>()[i];
    u = momentum * u + grad.data<float>()[i] + weight_decay * p;
    p -= learning_rate * u;
  }
}

}  // namespace seqtrain
