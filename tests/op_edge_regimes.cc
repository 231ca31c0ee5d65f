#include "op_edge_regimes.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include <fmt/format.h>

namespace seqtrain::testing {
namespace {

using Real = long double;
using Values = std::vector<Real>;

// One unit in the last place of an f32 near 1, relative.
constexpr Real kFloatUlp = 1.1920929e-7L;

Tensor on_backend(Backend& backend, const Tensor& host) {
  Tensor device = backend.allocate(host.shape(), host.dtype());
  backend.copy_from_host(host, device);
  return device;
}

Tensor floats_on(Backend& backend, const std::vector<float>& values, Shape shape) {
  return on_backend(backend, Tensor::from_vector(values, std::move(shape)));
}

std::vector<float> to_floats(Backend& backend, const Tensor& device) {
  Tensor host = Tensor::empty(device.shape(), device.dtype());
  backend.copy_to_host(device, host);
  return {host.data<float>(), host.data<float>() + host.numel()};
}

std::vector<float> rounded(const Values& values) {
  std::vector<float> out;
  for (Real v : values) out.push_back(static_cast<float>(v));
  return out;
}

std::vector<float> uniform(std::size_t count, float low, float high, std::uint32_t seed) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<float> distribution(low, high);
  std::vector<float> values(count);
  for (float& v : values) v = distribution(generator);
  return values;
}

Real sigmoid(Real x) { return 1.0L / (1.0L + std::exp(-x)); }

// |actual - expected| <= atol[i] + rtol * |expected| at every element, and
// actual is finite wherever expected is (an infinity must match exactly). The
// failure names the worst element by its margin.
void expect_close(const std::string& what, const std::vector<float>& actual,
                  const Values& expected, const Values& atol, Real rtol) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  std::size_t worst = 0;
  Real worst_excess = 0;
  std::size_t failures = 0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const Real a = actual[i], e = expected[i];
    Real excess;
    if (std::isinf(e))
      excess = a == e ? 0 : std::numeric_limits<Real>::infinity();
    else if (!std::isfinite(a))
      excess = std::numeric_limits<Real>::infinity();
    else
      excess = std::fabs(a - e) - (atol[i] + rtol * std::fabs(e));
    if (excess > 0) {
      ++failures;
      if (excess > worst_excess || failures == 1) worst_excess = excess, worst = i;
    }
  }
  EXPECT_EQ(failures, 0u) << what << ": " << failures << " of " << actual.size()
                          << " elements off; worst at " << worst << ": " << actual[worst]
                          << " vs expected " << static_cast<double>(expected[worst])
                          << " (atol " << static_cast<double>(atol[worst]) << ", rtol "
                          << static_cast<double>(rtol) << ")";
}

void expect_close(const std::string& what, const std::vector<float>& actual,
                  const Values& expected, Real atol, Real rtol) {
  expect_close(what, actual, expected, Values(expected.size(), atol), rtol);
}

// ---- layernorm -----------------------------------------------------------------

// Forward on rows of one width against the formula
//   mean = sum x / D, var = sum (x - mean)^2 / D, rstd = 1 / sqrt(var + eps),
//   y = (x - mean) rstd gamma + beta,
// then backward from the reference mean and rstd (rounded to f32, as a
// backend saves them), so it is checked on its own.
void check_layernorm(Backend& backend, const std::vector<std::vector<float>>& rows,
                     const std::vector<float>& gamma, const std::vector<float>& beta,
                     float epsilon, const std::string& label) {
  const std::size_t n = rows.size(), d = gamma.size();
  std::vector<float> x;
  for (const auto& row : rows) x.insert(x.end(), row.begin(), row.end());
  Values mean(n), rstd(n), y(n * d), y_atol(n * d), mean_atol(n);
  for (std::size_t r = 0; r < n; ++r) {
    Real sum = 0, largest = 0;
    for (float v : rows[r]) sum += v, largest = std::max(largest, std::fabs(Real(v)));
    mean[r] = sum / d;
    Real variance = 0;
    for (float v : rows[r]) variance += (v - mean[r]) * (v - mean[r]);
    variance /= d;
    rstd[r] = 1.0L / std::sqrt(variance + Real(epsilon));
    // An f32 backend's mean may be a few ulps off; (x - mean) rstd carries that.
    mean_atol[r] = 4 * kFloatUlp * largest;
    for (std::size_t j = 0; j < d; ++j) {
      y[r * d + j] = (rows[r][j] - mean[r]) * rstd[r] * gamma[j] + beta[j];
      y_atol[r * d + j] = 1e-6L * (1 + std::fabs(Real(beta[j]))) +
                          4 * kFloatUlp * std::fabs(mean[r]) * rstd[r] * std::fabs(Real(gamma[j]));
    }
  }
  const Shape shape{static_cast<std::int64_t>(n), static_cast<std::int64_t>(d)};
  const Tensor x_device = floats_on(backend, x, shape);
  const Tensor gamma_device = floats_on(backend, gamma, {shape[1]});
  const Tensor beta_device = floats_on(backend, beta, {shape[1]});
  Tensor y_device = backend.allocate(shape, DType::f32);
  Tensor mean_device = backend.allocate({shape[0]}, DType::f32);
  Tensor rstd_device = backend.allocate({shape[0]}, DType::f32);
  backend.layernorm_forward(x_device, gamma_device, beta_device, epsilon, y_device, mean_device,
                            rstd_device);
  expect_close(label + " forward y", to_floats(backend, y_device), y, y_atol, 1e-5L);
  expect_close(label + " forward mean", to_floats(backend, mean_device), mean, mean_atol, 0);
  expect_close(label + " forward rstd", to_floats(backend, rstd_device), rstd, 0, 1e-5L);

  // dx = rstd (g - mean(g) - xhat mean(g xhat)), g = dy gamma, xhat = (x - mean) rstd;
  // dgamma = sum_rows dy xhat, dbeta = sum_rows dy.
  const std::vector<float> saved_mean = rounded(mean), saved_rstd = rounded(rstd);
  const std::vector<float> dy = uniform(n * d, -1, 1, 41);
  Values dx(n * d), dx_atol(n * d), dgamma(d, 0), dbeta(d, 0), dgamma_atol(d, 0);
  for (std::size_t r = 0; r < n; ++r) {
    const Real m = saved_mean[r], s = saved_rstd[r];
    Real g_mean = 0, gx_mean = 0, g_largest = 0, xhat_largest = 0;
    for (std::size_t j = 0; j < d; ++j) {
      const Real xhat = (rows[r][j] - m) * s, g = Real(dy[r * d + j]) * gamma[j];
      g_mean += g / d;
      gx_mean += g * xhat / d;
      g_largest = std::max(g_largest, std::fabs(g));
      xhat_largest = std::max(xhat_largest, std::fabs(xhat));
    }
    for (std::size_t j = 0; j < d; ++j) {
      const Real xhat = (rows[r][j] - m) * s, g = Real(dy[r * d + j]) * gamma[j];
      dx[r * d + j] = s * (g - g_mean - xhat * gx_mean);
      // The subtractions cancel: f32 rounding of g and xhat, times rstd.
      dx_atol[r * d + j] = 8 * kFloatUlp * s * g_largest * (1 + xhat_largest * xhat_largest);
      dgamma[j] += dy[r * d + j] * xhat;
      dgamma_atol[j] += 8 * kFloatUlp * std::fabs(dy[r * d + j] * xhat) + 1e-7L;
      dbeta[j] += dy[r * d + j];
    }
  }
  Tensor dx_device = backend.allocate(shape, DType::f32);
  Tensor dgamma_device = backend.allocate({shape[1]}, DType::f32);
  Tensor dbeta_device = backend.allocate({shape[1]}, DType::f32);
  backend.layernorm_backward(x_device, gamma_device, floats_on(backend, saved_mean, {shape[0]}),
                             floats_on(backend, saved_rstd, {shape[0]}),
                             floats_on(backend, dy, shape), dx_device, dgamma_device,
                             dbeta_device);
  expect_close(label + " backward dx", to_floats(backend, dx_device), dx, dx_atol, 1e-5L);
  expect_close(label + " backward dgamma", to_floats(backend, dgamma_device), dgamma, dgamma_atol,
               1e-5L);
  expect_close(label + " backward dbeta", to_floats(backend, dbeta_device), dbeta, 1e-6L, 1e-6L);
}

std::vector<float> shifted(const std::vector<float>& unit, float offset, float spread) {
  std::vector<float> row;
  for (float u : unit) row.push_back(offset + spread * u);
  return row;
}

void check_layernorm_regimes(Backend& backend) {
  constexpr std::size_t d = 37;
  const std::vector<float> gamma = uniform(d, 0.5f, 1.5f, 11), beta = uniform(d, -0.5f, 0.5f, 12);
  const std::vector<float> unit = uniform(d, -1, 1, 13);  // variance about 1/3
  // Spread s gives a variance of about s^2 / 3: for a variance of k * eps, s = sqrt(3 k eps).
  auto spread_for = [](double variance) { return static_cast<float>(std::sqrt(3 * variance)); };
  check_layernorm(backend,
                  {std::vector<float>(d, 3.25f), shifted(unit, 0.5f, spread_for(1e-7)),
                   shifted(unit, 0.5f, spread_for(1e-5)), shifted(unit, 0.5f, spread_for(1e-3)),
                   shifted(unit, 0, 1e-4f), shifted(unit, 0, 1e3f), shifted(unit, 1000, 1),
                   shifted(unit, -7, 2)},
                  gamma, beta, 1e-5f, "layernorm eps 1e-5");
  // BERT's epsilon: variances about 3e-15, 3e-13 and 3e-11 around it.
  check_layernorm(backend,
                  {std::vector<float>(d, -2.0f), shifted(unit, 0, 1e-7f), shifted(unit, 0, 1e-6f),
                   shifted(unit, 0, 1e-5f), shifted(unit, 0, 1)},
                  gamma, beta, 1e-12f, "layernorm eps 1e-12");
}

// Rows worked out by hand (gamma 1, beta 0, eps 1e-5):
//   [0, 0.002]: mean 0.001, var 1e-6, rstd 1/sqrt(1.1e-5) = 301.51134..., y = -+0.30151134
//   [1, 3]:     mean 2, var 1, rstd 1/sqrt(1.00001) = 0.99999500004, y = -+0.99999500
//   [5, 5]:     var 0, y = 0, rstd 1/sqrt(1e-5) = 316.22777
void check_layernorm_by_hand(Backend& backend) {
  const Tensor x = floats_on(backend, {0.0f, 0.002f, 1, 3, 5, 5}, {3, 2});
  const Tensor gamma = floats_on(backend, {1, 1}, {2}), beta = floats_on(backend, {0, 0}, {2});
  Tensor y = backend.allocate({3, 2}, DType::f32);
  Tensor mean = backend.allocate({3}, DType::f32), rstd = backend.allocate({3}, DType::f32);
  backend.layernorm_forward(x, gamma, beta, 1e-5f, y, mean, rstd);
  expect_close("layernorm by hand y", to_floats(backend, y),
               {-0.30151134L, 0.30151134L, -0.99999500L, 0.99999500L, 0, 0}, 2e-7L, 2e-6L);
  expect_close("layernorm by hand rstd", to_floats(backend, rstd),
               {301.51134L, 0.99999500L, 316.22777L}, 0, 2e-6L);
}

// ---- activations -----------------------------------------------------------------

const std::vector<float> kSaturatingInputs = {-1e4f, -100, -88, -50, -20, -10, -5,   -1, -1e-3f,
                                              0,     1e-3f, 1,  5,   10,  20,  50,   88, 100, 1e4f};

void check_activation(Backend& backend, Activation activation) {
  const std::vector<float>& xs = kSaturatingInputs;
  const std::size_t n = xs.size();
  Values y(n), dydx(n), y_atol(n);
  for (std::size_t i = 0; i < n; ++i) {
    const Real x = xs[i];
    const Real cdf = 0.5L * (1 + std::erf(x / std::sqrt(2.0L)));
    switch (activation) {
      case Activation::sigmoid: y[i] = sigmoid(x), dydx[i] = y[i] * (1 - y[i]); break;
      case Activation::tanh: y[i] = std::tanh(x), dydx[i] = 1 - y[i] * y[i]; break;
      case Activation::relu: y[i] = x > 0 ? x : 0, dydx[i] = x > 0 ? 1 : 0; break;
      case Activation::silu:
        y[i] = x * sigmoid(x), dydx[i] = sigmoid(x) * (1 + x * (1 - sigmoid(x)));
        break;
      case Activation::identity: y[i] = x, dydx[i] = 1; break;
      case Activation::gelu:
        y[i] = x * cdf;
        dydx[i] = cdf + x * std::exp(-x * x / 2) / std::sqrt(2 * 3.14159265358979323846L);
        break;
    }
    // Below f32's normal range a backend may flush to zero (or clamp to its
    // smallest value), times |x| for SiLU. GELU's f32 1 + erf(x) cancels for
    // x << 0: its error is absolute, in units of |x|.
    const Real magnitude = std::max<Real>(1, std::fabs(x));
    y_atol[i] = activation == Activation::gelu   ? 2 * kFloatUlp * magnitude
                : activation == Activation::silu ? 1e-37L * magnitude
                                                 : 1e-37L;
  }
  const std::string name = activation_name(activation);
  const Shape shape{static_cast<std::int64_t>(n)};
  const Tensor x_device = floats_on(backend, xs, shape);
  Tensor y_device = backend.allocate(shape, DType::f32);
  backend.activation_forward(activation, x_device, y_device);
  expect_close(name + " forward", to_floats(backend, y_device), y, y_atol, 4e-6L);

  // Backward from the reference y rounded to f32 (sigmoid and tanh read y):
  // 1 - y^2 from a rounded y is off by about 2 |y - y_f|.
  const std::vector<float> dy = uniform(n, 0.5f, 1.5f, 21);
  Values dx(n);
  for (std::size_t i = 0; i < n; ++i) dx[i] = dy[i] * dydx[i];
  Tensor dx_device = backend.allocate(shape, DType::f32);
  backend.activation_backward(activation, x_device, floats_on(backend, rounded(y), shape),
                              floats_on(backend, dy, shape), dx_device);
  expect_close(name + " backward", to_floats(backend, dx_device), dx, 4 * kFloatUlp, 4e-6L);
}

void check_activations(Backend& backend) {
  for (Activation activation : {Activation::sigmoid, Activation::tanh, Activation::relu,
                                Activation::gelu, Activation::silu, Activation::identity})
    check_activation(backend, activation);
}

// ---- the fused LSTM cell ---------------------------------------------------------

// One step of an LSTM layer (T 1, B 2, I 3, H 2) whose gate pre-activations
// are chosen: x_b is one-hot in column b (plus 0.5 in column 2), so
// W_ih[:, b] sets row b's pre-activations, from +-0.25 to +-100.
//   a = W_ih x + b_ih + W_hh h0 + b_hh;  i, f, o = sigmoid, g = tanh
//   c = f c0 + i g,  h = o tanh(c)
// Backward with dh = dy + dh_n:
//   dc = dc_n + dh o (1 - tanh^2 c);  da_o = dh tanh(c) o (1 - o)
//   da_i = dc g i (1 - i);  da_g = dc i (1 - g^2);  da_f = dc c0 f (1 - f)
//   dc0 = dc f;  dx = W_ih^T da;  dh0 = W_hh^T da
//   dW_ih = da x^T;  dW_hh = da h0^T;  db_ih = db_hh = sum_b da
void check_lstm_cell_saturation(Backend& backend) {
  constexpr int batch = 2, inputs = 3, hidden = 2, gates = 4 * hidden;
  const std::vector<float> targets[batch] = {{100, -100, -60, 60, 40, -40, -20, 20},
                                             {-0.5f, 20, 100, -100, 60, -0.25f, 100, -60}};
  std::vector<float> weight_ih(gates * inputs);
  const std::vector<float> column_2 = uniform(gates, -1, 1, 31);
  for (int row = 0; row < gates; ++row) {
    for (int b = 0; b < batch; ++b) weight_ih[row * inputs + b] = targets[b][row];
    weight_ih[row * inputs + 2] = column_2[row];
  }
  const std::vector<float> x = {1, 0, 0.5f, 0, 1, 0.5f};
  const std::vector<float> weight_hh = uniform(gates * hidden, -0.1f, 0.1f, 32);
  const std::vector<float> bias_ih = uniform(gates, -0.1f, 0.1f, 33);
  const std::vector<float> bias_hh = uniform(gates, -0.1f, 0.1f, 34);
  const std::vector<float> h0 = uniform(batch * hidden, -1, 1, 35);
  const std::vector<float> c0 = uniform(batch * hidden, -2, 2, 36);
  const std::vector<float> dy = uniform(batch * hidden, -1, 1, 37);
  const std::vector<float> dh_n = uniform(batch * hidden, -1, 1, 38);
  const std::vector<float> dc_n = uniform(batch * hidden, -1, 1, 39);

  Values h(batch * hidden), c(batch * hidden), dc0(batch * hidden), dx(batch * inputs, 0),
      dh0(batch * hidden, 0), dweight_ih(gates * inputs, 0), dweight_hh(gates * hidden, 0),
      dbias(gates, 0);
  for (int b = 0; b < batch; ++b) {
    Real a[gates];
    for (int row = 0; row < gates; ++row) {
      a[row] = Real(bias_ih[row]) + bias_hh[row];
      for (int k = 0; k < inputs; ++k) a[row] += Real(weight_ih[row * inputs + k]) * x[b * inputs + k];
      for (int k = 0; k < hidden; ++k)
        a[row] += Real(weight_hh[row * hidden + k]) * h0[b * hidden + k];
    }
    Real da[gates];
    for (int u = 0; u < hidden; ++u) {
      const Real i = sigmoid(a[u]), f = sigmoid(a[hidden + u]), g = std::tanh(a[2 * hidden + u]),
                 o = sigmoid(a[3 * hidden + u]);
      const int at = b * hidden + u;
      c[at] = f * c0[at] + i * g;
      const Real tanh_c = std::tanh(c[at]);
      h[at] = o * tanh_c;
      const Real dh = Real(dy[at]) + dh_n[at];
      const Real dc = dc_n[at] + dh * o * (1 - tanh_c * tanh_c);
      da[u] = dc * g * i * (1 - i);
      da[hidden + u] = dc * c0[at] * f * (1 - f);
      da[2 * hidden + u] = dc * i * (1 - g * g);
      da[3 * hidden + u] = dh * tanh_c * o * (1 - o);
      dc0[at] = dc * f;
    }
    for (int row = 0; row < gates; ++row) {
      dbias[row] += da[row];
      for (int k = 0; k < inputs; ++k) {
        dx[b * inputs + k] += Real(weight_ih[row * inputs + k]) * da[row];
        dweight_ih[row * inputs + k] += da[row] * x[b * inputs + k];
      }
      for (int k = 0; k < hidden; ++k) {
        dh0[b * hidden + k] += Real(weight_hh[row * hidden + k]) * da[row];
        dweight_hh[row * hidden + k] += da[row] * h0[b * hidden + k];
      }
    }
  }

  const Tensor x_device = floats_on(backend, x, {1, batch, inputs});
  const Tensor weight_ih_device = floats_on(backend, weight_ih, {gates, inputs});
  const Tensor weight_hh_device = floats_on(backend, weight_hh, {gates, hidden});
  const Tensor bias_ih_device = floats_on(backend, bias_ih, {gates});
  const Tensor bias_hh_device = floats_on(backend, bias_hh, {gates});
  const Tensor h0_device = floats_on(backend, h0, {batch, hidden});
  const Tensor c0_device = floats_on(backend, c0, {batch, hidden});
  const Tensor lengths = on_backend(backend, Tensor::from_vector(std::vector<std::int32_t>{1, 1}, {batch}));
  Tensor y_device = backend.allocate({1, batch, hidden}, DType::f32);
  Tensor h_n = backend.allocate({batch, hidden}, DType::f32);
  Tensor c_n = backend.allocate({batch, hidden}, DType::f32);
  Tensor workspace =
      backend.allocate({1, batch, rnn_workspace_width(RnnCell::lstm) * hidden}, DType::f32);
  Tensor projection = backend.allocate({1, batch, gates}, DType::f32);
  backend.rnn_forward({.cell = RnnCell::lstm, .reverse = false, .x = &x_device,
                       .weight_ih = &weight_ih_device, .weight_hh = &weight_hh_device,
                       .bias_ih = &bias_ih_device, .bias_hh = &bias_hh_device, .h0 = &h0_device,
                       .c0 = &c0_device, .lengths = &lengths, .y = &y_device, .h_n = &h_n,
                       .c_n = &c_n, .workspace = &workspace, .input_projection = &projection});
  expect_close("lstm forward y", to_floats(backend, y_device), h, 1e-7L, 1e-5L);
  expect_close("lstm forward h_n", to_floats(backend, h_n), h, 1e-7L, 1e-5L);
  expect_close("lstm forward c_n", to_floats(backend, c_n), c, 1e-7L, 1e-5L);

  const Tensor dy_device = floats_on(backend, dy, {1, batch, hidden});
  const Tensor dh_n_device = floats_on(backend, dh_n, {batch, hidden});
  const Tensor dc_n_device = floats_on(backend, dc_n, {batch, hidden});
  Tensor dx_device = backend.allocate({1, batch, inputs}, DType::f32);
  Tensor dweight_ih_device = backend.allocate({gates, inputs}, DType::f32);
  Tensor dweight_hh_device = backend.allocate({gates, hidden}, DType::f32);
  Tensor dbias_ih_device = backend.allocate({gates}, DType::f32);
  Tensor dbias_hh_device = backend.allocate({gates}, DType::f32);
  Tensor dh0_device = backend.allocate({batch, hidden}, DType::f32);
  Tensor dc0_device = backend.allocate({batch, hidden}, DType::f32);
  Tensor gate_grads = backend.allocate({1, batch, gates}, DType::f32);
  backend.rnn_backward({.cell = RnnCell::lstm, .reverse = false, .x = &x_device,
                        .weight_ih = &weight_ih_device, .weight_hh = &weight_hh_device,
                        .h0 = &h0_device, .c0 = &c0_device, .lengths = &lengths, .y = &y_device,
                        .workspace = &workspace, .dy = &dy_device, .dh_n = &dh_n_device,
                        .dc_n = &dc_n_device, .dx = &dx_device, .dweight_ih = &dweight_ih_device,
                        .dweight_hh = &dweight_hh_device, .dbias_ih = &dbias_ih_device,
                        .dbias_hh = &dbias_hh_device, .dh0 = &dh0_device, .dc0 = &dc0_device,
                        .gate_grads = &gate_grads});
  // The pre-activations carry f32 rounding of ~1e-5 at |a| = 100; the
  // gradients' scale is |W_ih| <= 100 times |da| <= 1 for dx, about 1 for the
  // rest, where an f32 tanh one ulp short of 1 leaves 1 - g^2 ~ 1e-7.
  expect_close("lstm backward dx", to_floats(backend, dx_device), dx, 1e-5L, 1e-5L);
  expect_close("lstm backward dweight_ih", to_floats(backend, dweight_ih_device), dweight_ih,
               1e-6L, 1e-5L);
  expect_close("lstm backward dweight_hh", to_floats(backend, dweight_hh_device), dweight_hh,
               1e-6L, 1e-5L);
  expect_close("lstm backward dbias_ih", to_floats(backend, dbias_ih_device), dbias, 1e-6L, 1e-5L);
  expect_close("lstm backward dbias_hh", to_floats(backend, dbias_hh_device), dbias, 1e-6L, 1e-5L);
  expect_close("lstm backward dh0", to_floats(backend, dh0_device), dh0, 1e-6L, 1e-5L);
  expect_close("lstm backward dc0", to_floats(backend, dc0_device), dc0, 1e-6L, 1e-5L);
}

// ---- softmax and cross-entropy ---------------------------------------------------

constexpr std::int64_t kClasses = 6;
const std::vector<float> kLargeLogits = {
    1000,  999,  -1000, 0,     998.5f, 1000,    // two equal maxima near 1e3
    88.7f, 89,   90.25f, -88,  20,     -20,     // exp() overflows f32 past 88.7
    -1e4f, -9999, -9998, -1e4f, -1e4f, -9999.5f,  // all far below zero
    500,   500,  500,   500,   500,    500,     // equal: uniform
    1e4f,  -1e4f, 0,    5e3f,  -5e3f,  1e4f - 3};

Values log_sum_exp_rows(const std::vector<float>& logits, std::int64_t classes) {
  Values lse;
  for (std::size_t start = 0; start < logits.size(); start += classes) {
    Real largest = -std::numeric_limits<Real>::infinity(), sum = 0;
    for (std::int64_t j = 0; j < classes; ++j) largest = std::max(largest, Real(logits[start + j]));
    for (std::int64_t j = 0; j < classes; ++j) sum += std::exp(logits[start + j] - largest);
    lse.push_back(largest + std::log(sum));
  }
  return lse;
}

Values softmax_rows(const std::vector<float>& logits, std::int64_t classes) {
  const Values lse = log_sum_exp_rows(logits, classes);
  Values y(logits.size());
  for (std::size_t i = 0; i < logits.size(); ++i)
    y[i] = std::exp(logits[i] - lse[i / static_cast<std::size_t>(classes)]);
  return y;
}

// y = softmax(x); backward dx = y (dy - sum(dy y)), from the reference y.
void check_softmax_large_logits(Backend& backend) {
  const std::int64_t rows = static_cast<std::int64_t>(kLargeLogits.size()) / kClasses;
  const Values y = softmax_rows(kLargeLogits, kClasses);
  const Shape shape{rows, kClasses};
  Tensor y_device = backend.allocate(shape, DType::f32);
  backend.softmax_forward(floats_on(backend, kLargeLogits, shape), y_device);
  expect_close("softmax forward", to_floats(backend, y_device), y, 1e-30L, 1e-5L);

  const std::vector<float> dy = uniform(kLargeLogits.size(), -1, 1, 51);
  Values dx(y.size());
  for (std::int64_t r = 0; r < rows; ++r) {
    Real dot = 0;
    for (std::int64_t j = 0; j < kClasses; ++j) dot += Real(dy[r * kClasses + j]) * y[r * kClasses + j];
    for (std::int64_t j = 0; j < kClasses; ++j)
      dx[r * kClasses + j] = y[r * kClasses + j] * (dy[r * kClasses + j] - dot);
  }
  Tensor dx_device = backend.allocate(shape, DType::f32);
  backend.softmax_backward(floats_on(backend, rounded(y), shape), floats_on(backend, dy, shape),
                           dx_device);
  expect_close("softmax backward", to_floats(backend, dx_device), dx, 1e-6L, 1e-5L);
}

// loss = mean over rows whose target is not ignored of lse(x) - x[target];
// dlogits = dloss (softmax(x) - onehot(target)) / counted rows, 0 on ignored rows.
// A backend keeps lse in f32 for backward: at |lse| ~ 1e4 its rounding
// (half an ulp, ~5e-4) scales the probabilities by up to that much.
void check_cross_entropy(Backend& backend, const std::vector<std::int32_t>& targets,
                         const std::string& label) {
  constexpr std::int64_t kIgnore = -100;
  const std::int64_t rows = static_cast<std::int64_t>(targets.size());
  const std::vector<float> logits(kLargeLogits.begin(), kLargeLogits.begin() + rows * kClasses);
  const Values probabilities = softmax_rows(logits, kClasses);
  const Values lse = log_sum_exp_rows(logits, kClasses);
  Real loss = 0, loss_atol = 1e-6L;
  std::int64_t counted = 0;
  for (std::int64_t r = 0; r < rows; ++r) {
    if (targets[r] == kIgnore) continue;
    loss += lse[r] - logits[r * kClasses + targets[r]];
    loss_atol += 2 * kFloatUlp * std::fabs(lse[r]);
    ++counted;
  }
  if (counted > 0) loss /= counted;
  const float dloss = 1.7f;
  Values dlogits(logits.size(), 0), dlogits_atol(logits.size(), 1e-7L);
  for (std::int64_t r = 0; r < rows; ++r) {
    if (targets[r] == kIgnore) continue;
    for (std::int64_t j = 0; j < kClasses; ++j) {
      const Real scaled = Real(dloss) * probabilities[r * kClasses + j] / counted;
      dlogits[r * kClasses + j] = scaled - (j == targets[r] ? Real(dloss) / counted : 0);
      dlogits_atol[r * kClasses + j] += scaled * 2 * kFloatUlp * std::fabs(lse[r]);
    }
  }
  const Shape shape{rows, kClasses};
  const Tensor logits_device = floats_on(backend, logits, shape);
  const Tensor targets_device = on_backend(backend, Tensor::from_vector(targets, {rows}));
  Tensor loss_device = backend.allocate({1}, DType::f32);
  Tensor lse_device = backend.allocate({rows}, DType::f32);
  backend.cross_entropy_forward(logits_device, targets_device, kIgnore, loss_device, lse_device);
  expect_close(label + " loss", to_floats(backend, loss_device), {loss}, loss_atol, 1e-6L);
  Tensor dlogits_device = backend.allocate(shape, DType::f32);
  backend.cross_entropy_backward(logits_device, targets_device, lse_device,
                                 floats_on(backend, {dloss}, {1}), kIgnore, dlogits_device);
  expect_close(label + " dlogits", to_floats(backend, dlogits_device), dlogits, dlogits_atol,
               1e-5L);
}

void check_cross_entropy_large_logits(Backend& backend) {
  // Targets at the maximum, at a logit 2000 below it (loss ~2000), and ignored.
  check_cross_entropy(backend, {0, 3, -100, 2, 1}, "cross-entropy");
  check_cross_entropy(backend, {-100, -100, -100}, "cross-entropy, every row ignored");
}

// ---- attention -------------------------------------------------------------------

// B 3, T 5, 2 heads of d 32 (a size every backend's kernel has), q and k
// scaled so scores reach about +-100, key lengths 5, 2 and 0. Reference:
//   s_ij = q_i . k_j / sqrt(d) over j < L;  lse_i = log sum_j exp(s_ij)
//   o_i = sum_j exp(s_ij - lse_i) v_j;  L = 0: o_i = 0, lse_i = -inf
// Backward from the reference o and lse (rounded to f32):
//   D_i = dO_i . o_i;  ds_ij = p_ij (dO_i . v_j - D_i)
//   dq_i = sum_j ds_ij k_j / sqrt(d);  dk_j = sum_i ds_ij q_i / sqrt(d);  dv_j = sum_i p_ij dO_i
void check_attention_edge_regimes(Backend& backend) {
  constexpr int batch = 3, time = 5, heads = 2, d = 32;
  const std::vector<std::int32_t> lengths = {5, 2, 0};
  std::vector<float> qkv = uniform(batch * time * 3 * heads * d, -1, 1, 61);
  auto at = [&](int b, int t, int which, int h, int k) {
    return (((b * time + t) * 3 + which) * heads + h) * d + k;
  };
  for (int b = 0; b < batch; ++b)
    for (int t = 0; t < time; ++t)
      for (int h = 0; h < heads; ++h)
        for (int k = 0; k < d; ++k) qkv[at(b, t, 0, h, k)] *= 6, qkv[at(b, t, 1, h, k)] *= 6;
  const Real scale = 1 / std::sqrt(Real(d));
  const std::vector<float> dcontext = uniform(batch * time * heads * d, -1, 1, 62);

  Values context(batch * time * heads * d, 0), lse(batch * heads * time), dqkv(qkv.size(), 0);
  Values context_atol(context.size(), 1e-6L);
  for (int b = 0; b < batch; ++b)
    for (int h = 0; h < heads; ++h)
      for (int i = 0; i < time; ++i) {
        const int length = lengths[b];
        Values s(length), p(length);
        Real largest = -std::numeric_limits<Real>::infinity(), sum = 0;
        for (int j = 0; j < length; ++j) {
          s[j] = 0;
          for (int k = 0; k < d; ++k) s[j] += Real(qkv[at(b, i, 0, h, k)]) * qkv[at(b, j, 1, h, k)];
          s[j] *= scale;
          largest = std::max(largest, s[j]);
        }
        for (int j = 0; j < length; ++j) sum += std::exp(s[j] - largest);
        const Real row_lse = length == 0 ? -std::numeric_limits<Real>::infinity()
                                         : largest + std::log(sum);
        lse[(b * heads + h) * time + i] = row_lse;
        for (int j = 0; j < length; ++j) p[j] = std::exp(s[j] - row_lse);
        const int out = ((b * time + i) * heads + h) * d;
        for (int k = 0; k < d; ++k) {
          Real largest_score = 0;
          for (int j = 0; j < length; ++j) {
            context[out + k] += p[j] * qkv[at(b, j, 2, h, k)];
            largest_score = std::max(largest_score, std::fabs(s[j]));
          }
          // Scores of ~100 carry f32 rounding of ~100 ulp-of-1 in the exponent.
          context_atol[out + k] = 1e-6L + 8 * kFloatUlp * largest_score;
        }
        // Backward, from the reference o rounded to f32.
        Real big_d = 0;
        for (int k = 0; k < d; ++k)
          big_d += Real(dcontext[out + k]) * static_cast<float>(context[out + k]);
        for (int j = 0; j < length; ++j) {
          Real dp = 0;
          for (int k = 0; k < d; ++k) dp += Real(dcontext[out + k]) * qkv[at(b, j, 2, h, k)];
          const Real ds = p[j] * (dp - big_d);
          for (int k = 0; k < d; ++k) {
            dqkv[at(b, i, 0, h, k)] += ds * qkv[at(b, j, 1, h, k)] * scale;
            dqkv[at(b, j, 1, h, k)] += ds * qkv[at(b, i, 0, h, k)] * scale;
            dqkv[at(b, j, 2, h, k)] += p[j] * dcontext[out + k];
          }
        }
      }
  const Tensor qkv_device = floats_on(backend, qkv, {batch, time, 3, heads, d});
  const Tensor lengths_device = on_backend(backend, Tensor::from_vector(lengths, {batch}));
  Tensor context_device = backend.allocate({batch, time, heads * d}, DType::f32);
  Tensor lse_device = backend.allocate({batch, heads, time}, DType::f32);
  backend.attention_forward(qkv_device, lengths_device, false, {}, context_device, lse_device);
  expect_close("attention context", to_floats(backend, context_device), context, context_atol,
               1e-4L);
  expect_close("attention log_sum_exp", to_floats(backend, lse_device), lse, 1e-4L, 1e-6L);

  Tensor dqkv_device = backend.allocate({batch, time, 3, heads, d}, DType::f32);
  backend.attention_backward(qkv_device, lengths_device, false,
                             floats_on(backend, rounded(context), {batch, time, heads * d}),
                             floats_on(backend, rounded(lse), {batch, heads, time}),
                             floats_on(backend, dcontext, {batch, time, heads * d}), {},
                             dqkv_device);
  expect_close("attention dqkv", to_floats(backend, dqkv_device), dqkv, 1e-4L, 1e-4L);
}

}  // namespace

std::vector<EdgeRegimeCase> all_edge_regime_cases() {
  return {{"LayerNormNearAndBelowEpsilon", check_layernorm_regimes},
          {"LayerNormRowsWorkedOutByHand", check_layernorm_by_hand},
          {"ActivationsSaturate", check_activations},
          {"LstmCellSaturates", check_lstm_cell_saturation},
          {"SoftmaxOfLargeLogits", check_softmax_large_logits},
          {"CrossEntropyOfLargeLogitsAndIgnoredRows", check_cross_entropy_large_logits},
          {"AttentionWithLargeScoresAndMaskedRows", check_attention_edge_regimes}};
}

}  // namespace seqtrain::testing
