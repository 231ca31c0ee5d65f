// Multi-head self-attention as plain loops, one (batch, head) at a time: the
// oracle the cpu and cuda versions are held against. Formulas and layouts are
// those of Backend::attention_forward (seqtrain/backend.h). Sums run in double;
// each (b, h) keeps its scores in a T x T buffer, which only the oracle may do.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "backends/serial/serial_backend.h"
#include "seqtrain/rng.h"

namespace seqtrain {
namespace {

struct AttentionShape {
  std::int64_t batch, steps, heads, head_dim;
  std::int64_t row_stride() const { return 3 * heads * head_dim; }  // qkv, between tokens
};

AttentionShape attention_shape(const Tensor& qkv) {
  return {qkv.dim(0), qkv.dim(1), qkv.dim(3), qkv.dim(4)};
}

std::int64_t key_length(const Tensor& key_lengths, std::int64_t b, std::int64_t steps) {
  const std::int32_t length = key_lengths.data<std::int32_t>()[b];
  if (length < 0 || length > steps)
    throw DataError(fmt::format("attention: key length {} of sequence {} is outside [0, {}]",
                                length, b, steps));
  return length;
}

// Keys query i attends to: j < visible_keys (causal: j <= i as well).
std::int64_t visible_keys(std::int64_t length, bool causal, std::int64_t i) {
  return causal ? std::min(length, i + 1) : length;
}

float dropout_factor(const AttentionDropout& dropout, std::uint64_t index) {
  if (dropout.probability == 0.0f) return 1.0f;
  const bool keep =
      philox_uniform(dropout.seed, dropout.stream, dropout.step, dropout.first_index + index) >=
      dropout.probability;
  return keep ? 1.0f / (1.0f - dropout.probability) : 0.0f;
}

// s_ij = scale * q_i . k_j for keys j < length, into scores[i * length + j].
void head_scores(const float* qkv, const AttentionShape& shape, std::int64_t b, std::int64_t h,
                 std::int64_t length, std::vector<double>& scores) {
  const std::int64_t d = shape.head_dim, hidden = shape.heads * d;
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  scores.assign(static_cast<std::size_t>(shape.steps * length), 0.0);
  for (std::int64_t i = 0; i < shape.steps; ++i) {
    const float* q = qkv + (b * shape.steps + i) * shape.row_stride() + h * d;
    for (std::int64_t j = 0; j < length; ++j) {
      const float* k = qkv + (b * shape.steps + j) * shape.row_stride() + hidden + h * d;
      double dot = 0.0;
      for (std::int64_t c = 0; c < d; ++c) dot += static_cast<double>(q[c]) * k[c];
      scores[i * length + j] = scale * dot;
    }
  }
}

}  // namespace

void SerialBackend::attention_forward(const Tensor& qkv, const Tensor& key_lengths, bool causal,
                                      const AttentionDropout& dropout, Tensor& context,
                                      Tensor& log_sum_exp) {
  const AttentionShape shape = attention_shape(qkv);
  const std::int64_t T = shape.steps, d = shape.head_dim, hidden = shape.heads * d;
  const float* qkv_data = qkv.data<float>();
  std::vector<double> scores;
  std::vector<double> sum(static_cast<std::size_t>(d));  // o_i in double
  for (std::int64_t b = 0; b < shape.batch; ++b) {
    const std::int64_t length = key_length(key_lengths, b, T);
    for (std::int64_t h = 0; h < shape.heads; ++h) {
      head_scores(qkv_data, shape, b, h, length, scores);
      for (std::int64_t i = 0; i < T; ++i) {
        float* out = context.data<float>() + (b * T + i) * hidden + h * d;
        float& lse = log_sum_exp.data<float>()[(b * shape.heads + h) * T + i];
        if (length == 0) {
          for (std::int64_t c = 0; c < d; ++c) out[c] = 0.0f;
          lse = -std::numeric_limits<float>::infinity();
          continue;
        }
        const double* row = scores.data() + i * length;
        const std::int64_t visible = visible_keys(length, causal, i);
        double max_score = row[0];
        for (std::int64_t j = 1; j < visible; ++j) max_score = std::max(max_score, row[j]);
        double total = 0.0;
        for (std::int64_t j = 0; j < visible; ++j) total += std::exp(row[j] - max_score);
        const double row_lse = max_score + std::log(total);
        lse = static_cast<float>(row_lse);
        const std::uint64_t first = static_cast<std::uint64_t>(((b * shape.heads + h) * T + i) * T);
        std::fill(sum.begin(), sum.end(), 0.0);
        for (std::int64_t j = 0; j < visible; ++j) {
          const double weight = std::exp(row[j] - row_lse) *
                                dropout_factor(dropout, first + static_cast<std::uint64_t>(j));
          const float* v = qkv_data + (b * T + j) * shape.row_stride() + 2 * hidden + h * d;
          for (std::int64_t c = 0; c < d; ++c) sum[c] += weight * v[c];
        }
        for (std::int64_t c = 0; c < d; ++c) out[c] = static_cast<float>(sum[c]);
      }
    }
  }
}

void SerialBackend::attention_backward(const Tensor& qkv, const Tensor& key_lengths, bool causal,
                                       const Tensor& context, const Tensor& log_sum_exp,
                                       const Tensor& dcontext, const AttentionDropout& dropout,
                                       Tensor& dqkv) {
  const AttentionShape shape = attention_shape(qkv);
  const std::int64_t T = shape.steps, d = shape.head_dim, hidden = shape.heads * d;
  const std::int64_t row_stride = shape.row_stride();
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  const float* qkv_data = qkv.data<float>();
  float* dqkv_data = dqkv.data<float>();
  for (auto& x : dqkv.span<float>()) x = 0.0f;
  std::vector<double> scores;
  std::vector<double> head_grads(static_cast<std::size_t>(3 * T * d));  // dq, dk, dv [T, d]
  for (std::int64_t b = 0; b < shape.batch; ++b) {
    const std::int64_t length = key_length(key_lengths, b, T);
    if (length == 0) continue;
    for (std::int64_t h = 0; h < shape.heads; ++h) {
      head_scores(qkv_data, shape, b, h, length, scores);
      std::fill(head_grads.begin(), head_grads.end(), 0.0);
      double* dq = head_grads.data();
      double* dk = dq + T * d;
      double* dv = dk + T * d;
      for (std::int64_t i = 0; i < T; ++i) {
        const float* q = qkv_data + (b * T + i) * row_stride + h * d;
        const float* o = context.data<float>() + (b * T + i) * hidden + h * d;
        const float* dout = dcontext.data<float>() + (b * T + i) * hidden + h * d;
        const double lse = log_sum_exp.data<float>()[(b * shape.heads + h) * T + i];
        double delta = 0.0;  // D_i
        for (std::int64_t c = 0; c < d; ++c) delta += static_cast<double>(dout[c]) * o[c];
        const std::uint64_t first = static_cast<std::uint64_t>(((b * shape.heads + h) * T + i) * T);
        for (std::int64_t j = 0; j < visible_keys(length, causal, i); ++j) {
          const float* k = qkv_data + (b * T + j) * row_stride + hidden + h * d;
          const float* v = qkv_data + (b * T + j) * row_stride + 2 * hidden + h * d;
          const double p = std::exp(scores[i * length + j] - lse);
          const double z = dropout_factor(dropout, first + static_cast<std::uint64_t>(j));
          double dout_dot_v = 0.0;
          for (std::int64_t c = 0; c < d; ++c) dout_dot_v += static_cast<double>(dout[c]) * v[c];
          const double ds = p * (z * dout_dot_v - delta);
          for (std::int64_t c = 0; c < d; ++c) {
            dq[i * d + c] += scale * ds * k[c];
            dk[j * d + c] += scale * ds * q[c];
            dv[j * d + c] += p * z * dout[c];
          }
        }
      }
      for (std::int64_t t = 0; t < T; ++t) {
        float* row = dqkv_data + (b * T + t) * row_stride + h * d;
        for (std::int64_t c = 0; c < d; ++c) {
          row[c] = static_cast<float>(dq[t * d + c]);
          row[hidden + c] = static_cast<float>(dk[t * d + c]);
          row[2 * hidden + c] = static_cast<float>(dv[t * d + c]);
        }
      }
    }
  }
}

}  // namespace seqtrain
