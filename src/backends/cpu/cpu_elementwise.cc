// Element-wise ops of the cpu backend: bias add and its gradient, add, mul,
// scale, accumulate, activations. Each is one streaming pass split over the
// pool in contiguous pieces (parallel.h); inner loops are plain loops over
// raw pointers that g++ vectorises, with exp/tanh/erf from vector_math.h.
#include <cstring>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/parallel.h"
#include "backends/cpu/vector_math.h"

namespace seqtrain {
namespace {

// y[i] = f(x[i]) over n elements.
template <class Function>
void map_unary(int threads, const float* x, float* y, std::int64_t n, const Function& f) {
  cpu::parallel_for(
      threads, n, cpu::kElementGrain,
      [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t i = begin; i < end; ++i) y[i] = f(x[i]);
      },
      16);
}

// out[i] = f(a[i], b[i]) over n elements.
template <class Function>
void map_binary(int threads, const float* a, const float* b, float* out, std::int64_t n,
                const Function& f) {
  cpu::parallel_for(
      threads, n, cpu::kElementGrain,
      [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t i = begin; i < end; ++i) out[i] = f(a[i], b[i]);
      },
      16);
}

// dx[i] = dy[i] * derivative(x[i], y[i]) over n elements.
template <class Derivative>
void map_backward(int threads, const float* x, const float* y, const float* dy, float* dx,
                  std::int64_t n, const Derivative& derivative) {
  cpu::parallel_for(
      threads, n, cpu::kElementGrain,
      [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t i = begin; i < end; ++i) dx[i] = dy[i] * derivative(x[i], y[i]);
      },
      16);
}

}  // namespace

void CpuBackend::bias_add(const Tensor& x, const Tensor& bias, Tensor& out) {
  const std::int64_t width = bias.numel();
  if (width == 0) return;
  const std::int64_t rows = x.numel() / width;
  const float* x_data = x.data<float>();
  const float* bias_data = bias.data<float>();
  float* out_data = out.data<float>();
  cpu::parallel_for(threads_, rows, std::max<std::int64_t>(1, cpu::kElementGrain / width),
                    [&](std::int64_t begin, std::int64_t end) {
                      for (std::int64_t r = begin; r < end; ++r) {
                        const float* in = x_data + r * width;
                        float* result = out_data + r * width;
                        for (std::int64_t j = 0; j < width; ++j) result[j] = in[j] + bias_data[j];
                      }
                    });
}

// bias_grad[j] = sum over rows r of dy[r, j]. Rows are cut into blocks that
// depend only on the shape; each (row block, column chunk) tile sums its rows
// in double into the block's partial row, and the partial rows are added in
// block order: the result is the same at any thread count.
void CpuBackend::bias_grad(const Tensor& dy, Tensor& bias_grad) {
  const std::int64_t width = bias_grad.numel();
  float* result = bias_grad.data<float>();
  if (width == 0) return;
  const std::int64_t rows = dy.numel() / width;
  if (rows == 0) {
    std::memset(result, 0, static_cast<std::size_t>(width) * sizeof(float));
    return;
  }
  constexpr std::int64_t kColumnChunk = 512;  // 4 KiB of double partials: stays in L1
  const std::int64_t row_block = cpu::reduction_row_block(rows, 32);
  const std::int64_t blocks = (rows + row_block - 1) / row_block;
  const std::int64_t column_chunks = (width + kColumnChunk - 1) / kColumnChunk;
  double* partials = reduction_scratch(blocks * width);
  const float* dy_data = dy.data<float>();
  cpu::parallel_for(threads_, blocks * column_chunks,
                    std::max<std::int64_t>(1, cpu::kElementGrain / (row_block * kColumnChunk)),
                    [&](std::int64_t first_tile, std::int64_t last_tile) {
                      for (std::int64_t tile = first_tile; tile < last_tile; ++tile) {
                        const std::int64_t block = tile / column_chunks;
                        const std::int64_t column_begin = tile % column_chunks * kColumnChunk;
                        const std::int64_t column_end =
                            std::min(width, column_begin + kColumnChunk);
                        const std::int64_t row_end = std::min(rows, (block + 1) * row_block);
                        double* sums = partials + block * width;
                        for (std::int64_t j = column_begin; j < column_end; ++j) sums[j] = 0.0;
                        for (std::int64_t r = block * row_block; r < row_end; ++r) {
                          const float* row = dy_data + r * width;
                          for (std::int64_t j = column_begin; j < column_end; ++j)
                            sums[j] += row[j];
                        }
                      }
                    });
  cpu::combine_column_partials(threads_, partials, blocks, width, result);
}

void CpuBackend::add(const Tensor& a, const Tensor& b, Tensor& out) {
  map_binary(threads_, a.data<float>(), b.data<float>(), out.data<float>(), a.numel(),
             [](float u, float v) { return u + v; });
}

void CpuBackend::mul(const Tensor& a, const Tensor& b, Tensor& out) {
  map_binary(threads_, a.data<float>(), b.data<float>(), out.data<float>(), a.numel(),
             [](float u, float v) { return u * v; });
}

void CpuBackend::scale(const Tensor& x, float factor, Tensor& out) {
  map_unary(threads_, x.data<float>(), out.data<float>(), x.numel(),
            [factor](float u) { return u * factor; });
}

void CpuBackend::accumulate(const Tensor& x, Tensor& target) {
  float* target_data = target.data<float>();
  map_binary(threads_, target_data, x.data<float>(), target_data, x.numel(),
             [](float t, float u) { return t + u; });
}

void CpuBackend::activation_forward(Activation activation, const Tensor& x, Tensor& y) {
  const float* in = x.data<float>();
  float* out = y.data<float>();
  const std::int64_t n = x.numel();
  switch (activation) {
    case Activation::sigmoid:
      map_unary(threads_, in, out, n, [](float u) { return cpu::fast_sigmoid(u); });
      return;
    case Activation::tanh:
      map_unary(threads_, in, out, n, [](float u) { return cpu::fast_tanh(u); });
      return;
    case Activation::relu:
      map_unary(threads_, in, out, n, [](float u) { return cpu::select_float(u > 0.0f, u, 0.0f); });
      return;
    case Activation::gelu:
      map_unary(threads_, in, out, n, [](float u) { return cpu::fast_gelu(u); });
      return;
    case Activation::silu:
      map_unary(threads_, in, out, n, [](float u) { return u * cpu::fast_sigmoid(u); });
      return;
    case Activation::identity:
      map_unary(threads_, in, out, n, [](float u) { return u; });
      return;
  }
  SEQTRAIN_CHECK(false, "unknown activation {}", static_cast<int>(activation));
}

// Derivatives as in seqtrain/activation_math.h: sigmoid y(1-y), tanh 1-y^2, relu [x>0],
// gelu Phi(x) + x phi(x), silu s + x s (1 - s), identity 1.
void CpuBackend::activation_backward(Activation activation, const Tensor& x, const Tensor& y,
                                     const Tensor& dy, Tensor& dx) {
  const float* x_data = x.data<float>();
  const float* y_data = y.data<float>();
  const float* dy_data = dy.data<float>();
  float* dx_data = dx.data<float>();
  const std::int64_t n = x.numel();
  switch (activation) {
    case Activation::sigmoid:
      map_backward(threads_, x_data, y_data, dy_data, dx_data, n,
                   [](float, float out) { return out * (1.0f - out); });
      return;
    case Activation::tanh:
      map_backward(threads_, x_data, y_data, dy_data, dx_data, n,
                   [](float, float out) { return 1.0f - out * out; });
      return;
    case Activation::relu:
      map_backward(threads_, x_data, y_data, dy_data, dx_data, n,
                   [](float in, float) { return cpu::select_float(in > 0.0f, 1.0f, 0.0f); });
      return;
    case Activation::gelu:
      map_backward(threads_, x_data, y_data, dy_data, dx_data, n,
                   [](float in, float) { return cpu::fast_gelu_derivative(in); });
      return;
    case Activation::silu:
      map_backward(threads_, x_data, y_data, dy_data, dx_data, n, [](float in, float) {
        const float s = cpu::fast_sigmoid(in);
        return s + in * s * (1.0f - s);
      });
      return;
    case Activation::identity:
      map_backward(threads_, x_data, y_data, dy_data, dx_data, n, [](float, float) { return 1.0f; });
      return;
  }
  SEQTRAIN_CHECK(false, "unknown activation {}", static_cast<int>(activation));
}

}  // namespace seqtrain
