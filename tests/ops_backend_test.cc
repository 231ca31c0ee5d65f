// The cpu backend held against the serial oracle: every op case of op_cases.h
// through the graph (outputs and gradients); each op called directly on shapes
// large enough that the pool really splits the work; GEMMs on odd shapes with
// every transpose, batching, accumulation and leading dimensions wider than
// the matrix; dropout masks and reductions that do not depend on the thread
// count; and the vectorised exp/tanh/erf against libm. Op-level tests run the
// cpu backend with scratch guard zones on (scratch_buffer.h), so an op that
// writes past the scratch it reserved fails here.
#include <omp.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/vector_math.h"
#include "backends/serial/serial_backend.h"
#include "op_cases.h"

namespace seqtrain::testing {
namespace {

class CpuBackendOps : public ::testing::TestWithParam<OpCase> {};

TEST_P(CpuBackendOps, MatchesSerial) {
  CpuBackend cpu(2, cpu::ScratchGuards::on);
  expect_backends_agree(GetParam().graph_case, cpu);
  cpu.check_scratch_guards();
}

INSTANTIATE_TEST_SUITE_P(AllOps, CpuBackendOps, ::testing::ValuesIn(all_op_cases()),
                         [](const auto& info) { return info.param.name; });

::testing::AssertionResult bitwise_equal(const Tensor& actual, const Tensor& expected) {
  if (actual.bytes() != expected.bytes())
    return ::testing::AssertionFailure()
           << "sizes differ: " << actual.bytes() << " vs " << expected.bytes() << " bytes";
  if (std::memcmp(actual.raw(), expected.raw(), actual.bytes()) != 0)
    return ::testing::AssertionFailure() << "contents differ";
  return ::testing::AssertionSuccess();
}

// ---- GEMM ----------------------------------------------------------------

struct MatmulCase {
  Shape a, b;
  bool transpose_a, transpose_b;
  float alpha, beta;
};

// c starts as the same random values on both backends, so beta is checked.
void expect_matmul_matches_serial(const MatmulCase& test_case) {
  SerialBackend serial;
  CpuBackend cpu(2);
  const Tensor a = random_tensor(test_case.a, 31);
  const Tensor b = random_tensor(test_case.b, 32);
  const std::int64_t m = test_case.transpose_a ? test_case.a.back() : test_case.a.end()[-2];
  const std::int64_t n = test_case.transpose_b ? test_case.b.end()[-2] : test_case.b.back();
  Shape c_shape = test_case.a.size() == 3 ? Shape{test_case.a[0], m, n} : Shape{m, n};
  Tensor expected = random_tensor(c_shape, 33);
  Tensor actual = expected.clone();
  serial.matmul(a, b, expected, test_case.transpose_a, test_case.transpose_b, test_case.alpha,
                test_case.beta);
  cpu.matmul(a, b, actual, test_case.transpose_a, test_case.transpose_b, test_case.alpha,
             test_case.beta);
  EXPECT_TRUE(tensors_close(actual, expected, 1e-4, 1e-4))
      << shape_string(test_case.a) << " x " << shape_string(test_case.b) << " transpose "
      << test_case.transpose_a << test_case.transpose_b << " alpha " << test_case.alpha << " beta "
      << test_case.beta;
}

// op(A) is m x k, op(B) is k x n: stored shapes for each transpose.
Shape stored(std::int64_t rows, std::int64_t cols, bool transpose) {
  return transpose ? Shape{cols, rows} : Shape{rows, cols};
}

TEST(CpuGemm, OddShapesMatchSerialForEveryTransposeAndBeta) {
  const std::int64_t m = 67, n = 129, k = 33;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (float beta : {0.0f, 1.0f, -0.5f})
        expect_matmul_matches_serial({stored(m, k, ta), stored(k, n, tb), ta, tb, 0.75f, beta});
}

TEST(CpuGemm, BatchedMatchesSerialForEveryTranspose) {
  const std::int64_t batch = 3, m = 17, n = 41, k = 23;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      Shape a = stored(m, k, ta), b = stored(k, n, tb);
      a.insert(a.begin(), batch);
      b.insert(b.begin(), batch);
      expect_matmul_matches_serial({a, b, ta, tb, 1.0f, 0.0f});
      expect_matmul_matches_serial({a, b, ta, tb, -1.25f, 1.0f});
    }
}

TEST(CpuGemm, SharedRightOperandMatchesSerial) {
  const std::int64_t batch = 4, m = 19, n = 37, k = 29;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      Shape a = stored(m, k, ta);
      a.insert(a.begin(), batch);
      expect_matmul_matches_serial({a, stored(k, n, tb), ta, tb, 0.5f, 0.0f});
      expect_matmul_matches_serial({a, stored(k, n, tb), ta, tb, 1.0f, 1.0f});
    }
}

// Copies a [rows, cols] matrix into a [rows, ld] buffer whose padding holds
// `padding` (so reading it shows up in the result).
std::vector<float> padded(const Tensor& matrix, std::int64_t ld, float padding) {
  const std::int64_t rows = matrix.dim(0), cols = matrix.dim(1);
  std::vector<float> buffer(static_cast<std::size_t>(rows * ld), padding);
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j) buffer[i * ld + j] = matrix.data<float>()[i * cols + j];
  return buffer;
}

TEST(CpuGemm, LeadingDimensionsWiderThanTheMatrix) {
  const std::int64_t m = 23, n = 35, k = 47;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  SerialBackend serial;
  CpuBackend cpu(2);
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (float beta : {0.0f, 1.0f}) {
        const Tensor a = random_tensor(stored(m, k, ta), 41);
        const Tensor b = random_tensor(stored(k, n, tb), 42);
        Tensor expected = random_tensor({m, n}, 43);
        const std::int64_t lda = a.dim(1) + 5, ldb = b.dim(1) + 3, ldc = n + 7;
        // Padding of A and B is NaN: any read of it poisons the result. C's
        // padding must come back untouched.
        std::vector<float> a_buffer = padded(a, lda, nan), b_buffer = padded(b, ldb, nan);
        std::vector<float> c_buffer = padded(expected, ldc, 99.0f);
        serial.matmul(a, b, expected, ta, tb, 0.5f, beta);
        cpu.gemm(ta, tb, m, n, k, 0.5f, a_buffer.data(), lda, b_buffer.data(), ldb, beta,
                 c_buffer.data(), ldc);
        Tensor actual = Tensor::empty({m, n});
        for (std::int64_t i = 0; i < m; ++i)
          for (std::int64_t j = 0; j < ldc; ++j) {
            if (j < n)
              actual.data<float>()[i * n + j] = c_buffer[i * ldc + j];
            else
              ASSERT_EQ(c_buffer[i * ldc + j], 99.0f) << "padding of C written at row " << i;
          }
        EXPECT_TRUE(tensors_close(actual, expected, 1e-4, 1e-4))
            << "transpose " << ta << tb << " beta " << beta;
      }
}

TEST(CpuGemm, BetaZeroOverwritesWithoutReadingC) {
  CpuBackend cpu(2);
  SerialBackend serial;
  const Tensor a = random_tensor({13, 21}, 51), b = random_tensor({21, 9}, 52);
  Tensor expected = Tensor::zeros({13, 9});
  serial.matmul(a, b, expected, false, false, 1.0f, 0.0f);
  Tensor actual = Tensor::empty({13, 9});
  for (float& value : actual.span<float>()) value = std::numeric_limits<float>::quiet_NaN();
  cpu.matmul(a, b, actual, false, false, 1.0f, 0.0f);
  EXPECT_TRUE(tensors_close(actual, expected, 1e-5, 1e-5));
}

// The second call of a shape replays the cached primitive on new pointers.
TEST(CpuGemm, CachedPrimitiveFollowsNewOperands) {
  CpuBackend cpu(2);
  SerialBackend serial;
  for (std::uint64_t seed : {61, 62, 63}) {
    const Tensor a = random_tensor({31, 45}, seed), b = random_tensor({27, 45}, seed + 10);
    Tensor expected = Tensor::zeros({31, 27}), actual = Tensor::zeros({31, 27});
    serial.matmul(a, b, expected, false, true, 1.0f, 0.0f);
    cpu.matmul(a, b, actual, false, true, 1.0f, 0.0f);
    EXPECT_TRUE(tensors_close(actual, expected, 1e-4, 1e-4)) << "seed " << seed;
  }
}

// ---- every op on shapes the pool splits ----------------------------------

class CpuBackendLargeShapes : public ::testing::Test {
 protected:
  // Runs the same call on both backends with fresh copies of `outputs` and
  // compares them.
  void expect_same(const std::vector<Tensor>& outputs,
                   const std::function<void(Backend&, std::vector<Tensor>&)>& call,
                   double atol = 1e-5, double rtol = 1e-4) {
    std::vector<Tensor> expected, actual;
    for (const Tensor& output : outputs) {
      expected.push_back(output.clone());
      actual.push_back(output.clone());
    }
    call(serial_, expected);
    call(cpu_, actual);
    cpu_.check_scratch_guards();
    for (std::size_t i = 0; i < outputs.size(); ++i)
      EXPECT_TRUE(tensors_close(actual[i], expected[i], atol, rtol)) << "output " << i;
  }

  SerialBackend serial_;
  CpuBackend cpu_{2, cpu::ScratchGuards::on};
};

TEST_F(CpuBackendLargeShapes, ElementwiseAndActivationsMatchSerial) {
  const Tensor x = random_tensor({211, 199}, 71, 4.0f);
  const Tensor other = random_tensor({211, 199}, 72);
  const Tensor bias = random_tensor({199}, 73);
  const Tensor blank = Tensor::zeros({211, 199});
  expect_same({blank},
              [&](Backend& backend, std::vector<Tensor>& out) { backend.add(x, other, out[0]); });
  expect_same({blank},
              [&](Backend& backend, std::vector<Tensor>& out) { backend.mul(x, other, out[0]); });
  expect_same({blank},
              [&](Backend& backend, std::vector<Tensor>& out) { backend.scale(x, -0.3f, out[0]); });
  expect_same({other},
              [&](Backend& backend, std::vector<Tensor>& out) { backend.accumulate(x, out[0]); });
  expect_same({blank}, [&](Backend& backend, std::vector<Tensor>& out) {
    backend.bias_add(x, bias, out[0]);
  });
  expect_same(
      {Tensor::zeros({199})},
      [&](Backend& backend, std::vector<Tensor>& out) { backend.bias_grad(x, out[0]); }, 1e-4,
      1e-5);
  for (Activation activation :
       {Activation::sigmoid, Activation::tanh, Activation::relu, Activation::gelu}) {
    Tensor y = Tensor::zeros({211, 199});
    serial_.activation_forward(activation, x, y);
    expect_same({blank}, [&](Backend& backend, std::vector<Tensor>& out) {
      backend.activation_forward(activation, x, out[0]);
    });
    expect_same({blank}, [&](Backend& backend, std::vector<Tensor>& out) {
      backend.activation_backward(activation, x, y, other, out[0]);
    });
  }
}

TEST_F(CpuBackendLargeShapes, SoftmaxAndLossesMatchSerial) {
  const Tensor logits = random_tensor({301, 517}, 81, 6.0f);
  const Tensor dy = random_tensor({301, 517}, 82);
  const Tensor blank = Tensor::zeros({301, 517});
  Tensor y = Tensor::zeros({301, 517});
  serial_.softmax_forward(logits, y);
  expect_same({blank}, [&](Backend& backend, std::vector<Tensor>& out) {
    backend.softmax_forward(logits, out[0]);
  });
  expect_same({blank}, [&](Backend& backend, std::vector<Tensor>& out) {
    backend.softmax_backward(y, dy, out[0]);
  });

  Tensor targets = random_ids({301}, 517, 83);
  for (std::int64_t r = 0; r < 301; r += 7) targets.data<std::int32_t>()[r] = -100;
  Tensor lse = Tensor::zeros({301}), loss = Tensor::zeros({1});
  serial_.cross_entropy_forward(logits, targets, -100, loss, lse);
  expect_same({Tensor::zeros({1}), Tensor::zeros({301})},
              [&](Backend& backend, std::vector<Tensor>& out) {
                backend.cross_entropy_forward(logits, targets, -100, out[0], out[1]);
              });
  const Tensor dloss = Tensor::from_vector(std::vector<float>{1.7f}, {1});
  expect_same({blank}, [&](Backend& backend, std::vector<Tensor>& out) {
    backend.cross_entropy_backward(logits, targets, lse, dloss, -100, out[0]);
  });

  const Tensor target = random_tensor({301, 517}, 84);
  expect_same({Tensor::zeros({1})}, [&](Backend& backend, std::vector<Tensor>& out) {
    backend.mse_forward(logits, target, out[0]);
  });
  expect_same({blank}, [&](Backend& backend, std::vector<Tensor>& out) {
    backend.mse_backward(logits, target, dloss, out[0]);
  });
}

TEST_F(CpuBackendLargeShapes, LayerNormMatchesSerial) {
  const Tensor x = random_tensor({7, 101, 96}, 91, 3.0f);
  const Tensor gamma = random_tensor({96}, 92), beta = random_tensor({96}, 93);
  const Tensor dy = random_tensor({7, 101, 96}, 94);
  Tensor y = Tensor::zeros(x.shape()), mean = Tensor::zeros({707}), rstd = Tensor::zeros({707});
  serial_.layernorm_forward(x, gamma, beta, 1e-5f, y, mean, rstd);
  expect_same({y, mean, rstd}, [&](Backend& backend, std::vector<Tensor>& out) {
    backend.layernorm_forward(x, gamma, beta, 1e-5f, out[0], out[1], out[2]);
  });
  expect_same(
      {Tensor::zeros(x.shape()), Tensor::zeros({96}), Tensor::zeros({96})},
      [&](Backend& backend, std::vector<Tensor>& out) {
        backend.layernorm_backward(x, gamma, mean, rstd, dy, out[0], out[1], out[2]);
      },
      1e-4, 1e-4);
}

TEST_F(CpuBackendLargeShapes, GathersScattersAndReshapesMatchSerial) {
  const Tensor table = random_tensor({53, 160}, 101);
  const Tensor ids = random_ids({9, 57}, 53, 102);
  const Tensor dout = random_tensor({9, 57, 160}, 103);
  expect_same({Tensor::zeros({9, 57, 160})}, [&](Backend& backend, std::vector<Tensor>& out) {
    backend.embedding_forward(table, ids, out[0]);
  });
  expect_same({Tensor::zeros({53, 160})}, [&](Backend& backend, std::vector<Tensor>& out) {
    backend.embedding_backward(ids, dout, out[0]);
  });

  const Tensor x = random_tensor({37, 29, 45}, 104);
  expect_same({Tensor::zeros({29, 37, 45})},
              [&](Backend& backend, std::vector<Tensor>& out) { backend.transpose01(x, out[0]); });
  const Tensor left = random_tensor({37, 29, 17}, 105);
  expect_same({Tensor::zeros({37, 29, 62})}, [&](Backend& backend, std::vector<Tensor>& out) {
    backend.concat_last(left, x, out[0]);
  });
  const Tensor joined = random_tensor({37, 29, 62}, 106);
  expect_same({Tensor::zeros({37, 29, 17}), Tensor::zeros({37, 29, 45})},
              [&](Backend& backend, std::vector<Tensor>& out) {
                backend.split_last(joined, out[0], out[1]);
              });
  Tensor lengths = Tensor::empty({29}, DType::i32);
  for (std::int64_t b = 0; b < 29; ++b) lengths.data<std::int32_t>()[b] = 1 + (b * 7) % 37;
  for (bool reverse : {false, true}) {
    expect_same({Tensor::zeros({29, 45})}, [&](Backend& backend, std::vector<Tensor>& out) {
      backend.sequence_last(x, lengths, reverse, out[0]);
    });
    const Tensor last_grad = random_tensor({29, 45}, 107);
    expect_same({random_tensor({37, 29, 45}, 108)},
                [&](Backend& backend, std::vector<Tensor>& out) {
                  backend.sequence_last_backward(last_grad, lengths, reverse, out[0]);
                });
  }
}

TEST_F(CpuBackendLargeShapes, OptimizerUpdatesMatchSerial) {
  const Tensor parameter = random_tensor({50021}, 111);
  const Tensor grad = random_tensor({50021}, 112);
  const Tensor m = random_tensor({50021}, 113, 0.1f);
  Tensor v = random_tensor({50021}, 114, 0.01f);
  for (float& value : v.span<float>()) value = std::abs(value);
  const AdamWOptions options{1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, 7};
  expect_same({parameter, m, v}, [&](Backend& backend, std::vector<Tensor>& out) {
    backend.adamw_update(out[0], grad, out[1], out[2], options);
  });
  expect_same({parameter, m}, [&](Backend& backend, std::vector<Tensor>& out) {
    backend.sgd_update(out[0], grad, out[1], 0.05f, 0.9f, 1e-4f);
  });
  EXPECT_NEAR(cpu_.sum_of_squares(parameter), serial_.sum_of_squares(parameter),
              1e-9 * serial_.sum_of_squares(parameter));
}

TEST(CpuBackendErrors, BadIdsTargetsAndLengthsAreDataErrors) {
  CpuBackend cpu(2);
  const Tensor table = random_tensor({5, 3}, 121);
  const Tensor ids = Tensor::from_vector(std::vector<std::int32_t>{1, 4, 5, 0}, {4});
  Tensor out = Tensor::zeros({4, 3});
  EXPECT_THROW(cpu.embedding_forward(table, ids, out), DataError);
  Tensor dtable = Tensor::zeros({5, 3});
  EXPECT_THROW(cpu.embedding_backward(ids, out, dtable), DataError);

  const Tensor logits = random_tensor({3, 4}, 122);
  Tensor loss = Tensor::zeros({1}), lse = Tensor::zeros({3});
  const Tensor ignored_bad = Tensor::from_vector(std::vector<std::int32_t>{0, -100, 3}, {3});
  EXPECT_NO_THROW(cpu.cross_entropy_forward(logits, ignored_bad, -100, loss, lse));
  const Tensor bad = Tensor::from_vector(std::vector<std::int32_t>{0, 4, 3}, {3});
  try {
    cpu.cross_entropy_forward(logits, bad, -100, loss, lse);
    ADD_FAILURE() << "target 4 of 4 classes accepted";
  } catch (const DataError& error) {
    EXPECT_NE(std::string(error.what()).find("row 1"), std::string::npos) << error.what();
  }

  const Tensor x = random_tensor({4, 2, 3}, 123);
  const Tensor lengths = Tensor::from_vector(std::vector<std::int32_t>{4, 5}, {2});
  Tensor last = Tensor::zeros({2, 3});
  EXPECT_THROW(cpu.sequence_last(x, lengths, false, last), DataError);
}

// ---- determinism across thread counts -----------------------------------

// A part placed at first_index (a data-parallel rank's rows of the global
// batch) draws what the whole tensor draws there, on serial and on cpu at one
// and two threads, for every alignment against the Philox blocks of four.
TEST(CpuDropout, APartAtFirstIndexDrawsWhatTheWholeDrawsThere) {
  const Tensor whole = random_tensor({40, 331}, 77);
  SerialBackend serial;
  Tensor whole_y = Tensor::zeros(whole.shape()), whole_mask = Tensor::zeros(whole.shape());
  serial.dropout_forward(whole, 0.3f, 42, 5, 17, 0, whole_y, whole_mask);
  const std::vector<float> values = whole.to_vector(), expected = whole_mask.to_vector();
  CpuBackend one(1), two(2);
  for (Backend* backend : std::initializer_list<Backend*>{&serial, &one, &two})
    for (std::int64_t first : {1, 2, 3, 4, 331, 4001})
      for (std::int64_t count : {1, 5, 9000}) {
        SCOPED_TRACE(backend->name() + " first " + std::to_string(first) + " count " +
                     std::to_string(count));
        const Tensor part = Tensor::from_vector(
            std::vector<float>(values.begin() + first, values.begin() + first + count), {count});
        Tensor y = Tensor::zeros({count}), mask = Tensor::zeros({count});
        backend->dropout_forward(part, 0.3f, 42, 5, 17, static_cast<std::uint64_t>(first), y,
                                 mask);
        const std::vector<float> got = mask.to_vector();
        for (std::int64_t i = 0; i < count; ++i) ASSERT_EQ(got[i], expected[first + i]) << i;
      }
}

TEST(CpuDropout, MaskIsIdenticalAtOneAndTwoThreadsAndMatchesSerial) {
  const Tensor x = random_tensor({317, 331}, 131);
  auto run = [&](Backend& backend) {
    Tensor y = Tensor::zeros(x.shape()), mask = Tensor::zeros(x.shape());
    backend.dropout_forward(x, 0.3f, 42, 5, 17, 0, y, mask);
    return std::pair{y, mask};
  };
  CpuBackend one(1);
  auto [y_one, mask_one] = run(one);
  CpuBackend two(2);
  auto [y_two, mask_two] = run(two);
  SerialBackend serial;
  auto [y_serial, mask_serial] = run(serial);
  EXPECT_TRUE(bitwise_equal(mask_two, mask_one));
  EXPECT_TRUE(bitwise_equal(y_two, y_one));
  EXPECT_TRUE(bitwise_equal(mask_two, mask_serial));
  EXPECT_TRUE(bitwise_equal(y_two, y_serial));
  std::int64_t dropped = 0;
  for (float value : mask_two.span<float>()) dropped += value == 0.0f;
  EXPECT_NEAR(static_cast<double>(dropped) / x.numel(), 0.3, 0.01);
}

TEST(CpuReductions, AreBitIdenticalAtOneAndTwoThreads) {
  const Tensor dy = random_tensor({2003, 67}, 141);
  const Tensor x = random_tensor({1501, 40}, 142, 2.0f);
  const Tensor gamma = random_tensor({40}, 143), beta = random_tensor({40}, 144);
  const Tensor logits = random_tensor({1500, 77}, 145, 3.0f);
  const Tensor targets = random_ids({1500}, 77, 146);
  const Tensor prediction = random_tensor({2003, 67}, 147);
  struct Results {
    Tensor bias_grad, dgamma, dbeta, loss, mse;
    double squares;
  };
  auto run = [&](CpuBackend& backend) {
    Results results{Tensor::zeros({67}), Tensor::zeros({40}), Tensor::zeros({40}),
                    Tensor::zeros({1}),  Tensor::zeros({1}),  0.0};
    backend.bias_grad(dy, results.bias_grad);
    Tensor y = Tensor::zeros(x.shape()), mean = Tensor::zeros({1501}), rstd = Tensor::zeros({1501});
    backend.layernorm_forward(x, gamma, beta, 1e-5f, y, mean, rstd);
    Tensor dx = Tensor::zeros(x.shape());
    backend.layernorm_backward(x, gamma, mean, rstd, x, dx, results.dgamma, results.dbeta);
    Tensor lse = Tensor::zeros({1500});
    backend.cross_entropy_forward(logits, targets, -100, results.loss, lse);
    backend.mse_forward(prediction, dy, results.mse);
    results.squares = backend.sum_of_squares(dy);
    backend.check_scratch_guards();
    return results;
  };
  CpuBackend one(1, cpu::ScratchGuards::on);
  Results at_one = run(one);
  CpuBackend two(2, cpu::ScratchGuards::on);
  Results at_two = run(two);
  EXPECT_TRUE(bitwise_equal(at_two.bias_grad, at_one.bias_grad)) << "bias_grad";
  EXPECT_TRUE(bitwise_equal(at_two.dgamma, at_one.dgamma)) << "layernorm dgamma";
  EXPECT_TRUE(bitwise_equal(at_two.dbeta, at_one.dbeta)) << "layernorm dbeta";
  EXPECT_TRUE(bitwise_equal(at_two.loss, at_one.loss)) << "cross-entropy loss";
  EXPECT_TRUE(bitwise_equal(at_two.mse, at_one.mse)) << "mse loss";
  EXPECT_EQ(at_two.squares, at_one.squares) << "sum of squares";
}

// ---- vectorised math ------------------------------------------------------

TEST(CpuVectorMath, MatchesLibmWithinDocumentedError) {
  double exp_error = 0.0, tanh_error = 0.0, erf_error = 0.0;
  for (int i = -200000; i <= 200000; ++i) {
    const float x = static_cast<float>(i) * 1e-4f;  // [-20, 20]
    const double exact = std::exp(static_cast<double>(x));
    exp_error = std::max(exp_error, std::abs(cpu::fast_exp(x) - exact) / exact);
    tanh_error =
        std::max(tanh_error, std::abs(cpu::fast_tanh(x) - std::tanh(static_cast<double>(x))));
    erf_error = std::max(erf_error, std::abs(cpu::fast_erf(x) - std::erf(static_cast<double>(x))));
  }
  EXPECT_LT(exp_error, 2e-7);
  EXPECT_LT(tanh_error, 3e-7);
  EXPECT_LT(erf_error, 4e-7);
  EXPECT_EQ(cpu::fast_exp(-100.0f), 0.0f);
  EXPECT_NEAR(cpu::fast_exp(-87.0f) / std::exp(-87.0), 1.0, 1e-6);
  EXPECT_TRUE(std::isnan(cpu::fast_exp(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(std::isnan(cpu::fast_tanh(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_FLOAT_EQ(cpu::fast_tanh(50.0f), 1.0f);
  EXPECT_FLOAT_EQ(cpu::fast_erf(-9.0f), -1.0f);
}

}  // namespace
// threads: 0 follows OMP_NUM_THREADS when the environment sets it (first
// entry of a list), one thread per core otherwise or when it is not a count.
TEST(CpuBackendThreads, ZeroFollowsOmpNumThreadsElseOnePerCore) {
  const char* saved = std::getenv("OMP_NUM_THREADS");
  const std::string restore = saved ? saved : "";
  ::setenv("OMP_NUM_THREADS", "3", 1);
  EXPECT_EQ(CpuBackend(0).threads(), 3);
  ::setenv("OMP_NUM_THREADS", "1,2", 1);
  EXPECT_EQ(CpuBackend(0).threads(), 1);
  EXPECT_EQ(CpuBackend(2).threads(), 2);  // a count in the config wins
  ::setenv("OMP_NUM_THREADS", "lots", 1);
  EXPECT_EQ(CpuBackend(0).threads(), omp_get_num_procs());
  ::unsetenv("OMP_NUM_THREADS");
  EXPECT_EQ(CpuBackend(0).threads(), omp_get_num_procs());
  if (saved) ::setenv("OMP_NUM_THREADS", restore.c_str(), 1);
  omp_set_num_threads(omp_get_num_procs());
}

}  // namespace seqtrain::testing
