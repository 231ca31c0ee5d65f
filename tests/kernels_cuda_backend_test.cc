// The CUDA backend's host code (src/backends/cuda) held against the serial
// backend op by op, plus its allocator and a short LSTM training run against
// the cpu backend. Built twice with the same expectations: on the emulated
// device (kernels/emu/runtime + kernels/emu) in seqtrain_kernel_tests, and on
// the real runtime and a GPU in seqtrain_gpu_tests. What only the emulation
// can show is in kernels_cuda_emulated_device_test.cc.
#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "backends/cpu/cpu_backend.h"
#include "backends/cuda/cuda_backend.h"
#include "backends/device_selection.h"
#include "backends/serial/serial_backend.h"
#include "data/adding_problem.h"
#include "models/sequence_model.h"
#include "op_cases.h"
#include "precision_test_support.h"
#include "seqtrain/parameters.h"
#include "cuda_backend_test_support.h"
#include "test_support.h"
#include "train/grad_clip.h"
#include "train/optimizer.h"
#include "tasks/sequence_runner.h"

namespace seqtrain::testing {
namespace {

// ---- every op through the graph ------------------------------------------------

class CudaBackendOpCases : public ::testing::TestWithParam<OpCase> {};

// Outputs and parameter gradients of each op case (op_cases.h) against serial.
// Attention cases whose head size the CUDA kernel is not built for (it has 32,
// 64 and 128) are refused with a DeviceError, reported as a skip naming them;
// CudaBackendOps.AttentionMatchesSerial covers the CUDA attention at d = 32.
TEST_P(CudaBackendOpCases, MatchesSerial) {
  CudaBackend cuda(0);
  try {
    expect_backends_agree(GetParam().graph_case, cuda, 1e-4, 1e-4);
  } catch (const DeviceError& error) {
    if (std::string(error.what()).find("cuda attention supports head sizes") == std::string::npos)
      throw;
    GTEST_SKIP() << error.what();
  }
}

INSTANTIATE_TEST_SUITE_P(AllOps, CudaBackendOpCases, ::testing::ValuesIn(all_op_cases()),
                         [](const auto& info) { return info.param.name; });

// ---- GEMM ------------------------------------------------------------------------

struct MatmulCase {
  Shape a, b;
  bool transpose_a, transpose_b;
  float alpha, beta;
};

std::string describe(const MatmulCase& c) {
  return fmt::format("{} x {} transpose {}{} alpha {} beta {}", shape_string(c.a),
                     shape_string(c.b), c.transpose_a, c.transpose_b, c.alpha, c.beta);
}

Shape output_shape(const MatmulCase& c) {
  const std::int64_t m = c.transpose_a ? c.a.back() : c.a.end()[-2];
  const std::int64_t n = c.transpose_b ? c.b.end()[-2] : c.b.back();
  return c.a.size() == 3 ? Shape{c.a[0], m, n} : Shape{m, n};
}

// c starts as the same random values on both backends, so beta is checked.
void expect_matmul_matches_serial(const MatmulCase& c, CudaBackend& cuda) {
  SerialBackend serial;
  const Tensor a = random_tensor(c.a, 31), b = random_tensor(c.b, 32);
  Tensor expected = random_tensor(output_shape(c), 33);
  Tensor actual = to_device(cuda, expected);
  serial.matmul(a, b, expected, c.transpose_a, c.transpose_b, c.alpha, c.beta);
  cuda.matmul(to_device(cuda, a), to_device(cuda, b), actual, c.transpose_a, c.transpose_b, c.alpha,
              c.beta);
  EXPECT_TRUE(tensors_close(to_host(cuda, actual), expected, 1e-5, 1e-5)) << describe(c);
}

Shape stored(std::int64_t rows, std::int64_t cols, bool transpose) {
  return transpose ? Shape{cols, rows} : Shape{rows, cols};
}

TEST(CudaBackendGemm, OddShapesMatchSerialForEveryTransposeAndBeta) {
  CudaBackend cuda(0);
  const std::int64_t m = 13, n = 29, k = 11;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (float beta : {0.0f, 1.0f, -0.5f})
        expect_matmul_matches_serial({stored(m, k, ta), stored(k, n, tb), ta, tb, 0.75f, beta},
                                     cuda);
}

TEST(CudaBackendGemm, BatchedAndSharedRightOperandMatchSerial) {
  CudaBackend cuda(0);
  const std::int64_t batch = 3, m = 5, n = 7, k = 9;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      Shape a = stored(m, k, ta), b = stored(k, n, tb);
      a.insert(a.begin(), batch);
      Shape batched_b = b;
      batched_b.insert(batched_b.begin(), batch);
      expect_matmul_matches_serial({a, batched_b, ta, tb, 1.0f, 0.0f}, cuda);
      // b rank 2: one matrix for every batch entry (one tall GEMM when a is not transposed).
      expect_matmul_matches_serial({a, b, ta, tb, -0.5f, 1.0f}, cuda);
    }
}

TEST(CudaBackendGemm, Bf16InputsMatchSerialOnTheRoundedValues) {
  CudaBackend cuda(0);
  SerialBackend serial;
  const std::int64_t m = 9, n = 17, k = 33;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      auto [a_bf16, a_exact] = bf16_and_exact_f32(random_tensor(stored(m, k, ta), 51));
      auto [b_bf16, b_exact] = bf16_and_exact_f32(random_tensor(stored(k, n, tb), 52));
      Tensor expected = Tensor::zeros({m, n});
      serial.matmul(a_exact, b_exact, expected, ta, tb, 1.0f, 0.0f);
      // fp32 output: only the accumulation order differs.
      Tensor f32_out = cuda.allocate({m, n}, DType::f32);
      cuda.matmul(to_device(cuda, a_bf16), to_device(cuda, b_bf16), f32_out, ta, tb, 1.0f, 0.0f);
      EXPECT_TRUE(tensors_close(to_host(cuda, f32_out), expected, 1e-5, 1e-5));
      // bf16 output: rounded once more.
      Tensor bf16_out = cuda.allocate({m, n}, DType::bf16);
      cuda.matmul(to_device(cuda, a_bf16), to_device(cuda, b_bf16), bf16_out, ta, tb, 1.0f, 0.0f);
      EXPECT_TRUE(tensors_close(to_host(cuda, bf16_out), expected, 1e-2, 1e-2));
    }
}

TEST(CudaBackendOps, BiasGradMatchesSerial) {
  CudaBackend cuda(0);
  SerialBackend serial;
  const Tensor dy = random_tensor({37, 3, 19}, 61);
  Tensor expected = Tensor::zeros({19});
  serial.bias_grad(dy, expected);
  Tensor actual = cuda.allocate({19}, DType::f32);
  cuda.bias_grad(to_device(cuda, dy), actual);
  EXPECT_TRUE(tensors_close(to_host(cuda, actual), expected, 1e-5, 1e-5));
}

// Ids and lengths that would address memory outside a tensor are the DataErrors
// the CPU backends raise, found by the kernels' flags (kernels/bad_index.h) and
// raised at the next point where the host waits for the device anyway: the op
// itself returns without waiting.
TEST(CudaBackendOps, BadIdsAndLengthsAreDataErrorsAtTheNextWait) {
  CudaBackend cuda(0);
  const Tensor table = to_device(cuda, random_tensor({11, 5}, 62));
  const Tensor ids =
      to_device(cuda, Tensor::from_vector(std::vector<std::int32_t>{3, 11, 0, -1}, {4}));
  Tensor out = cuda.allocate({4, 5}, DType::f32);
  cuda.embedding_forward(table, ids, out);
  EXPECT_EQ(error_message<DataError>([&] { to_host(cuda, out); }),
            "token id 11 at position 1 is outside the vocabulary of 11");

  const Tensor x = to_device(cuda, random_tensor({4, 3, 2}, 63));
  const Tensor lengths =
      to_device(cuda, Tensor::from_vector(std::vector<std::int32_t>{4, 5, 0}, {3}));
  Tensor last = cuda.allocate({3, 2}, DType::f32);
  cuda.sequence_last(x, lengths, false, last);
  EXPECT_EQ(error_message<DataError>([&] { cuda.synchronize(); }), "sequence 1 has length 5, outside [1, 4]");
  // The flags are clear again: a good call succeeds.
  const Tensor good = to_device(cuda, Tensor::from_vector(std::vector<std::int32_t>{4, 1, 2}, {3}));
  EXPECT_NO_THROW({
    cuda.sequence_last(x, good, false, last);
    cuda.synchronize();
  });

  // Attention's key lengths, forward and backward, with the serial backend's
  // message; of several bad ops before one wait, the first launched is raised.
  SerialBackend serial;
  const std::int64_t B = 3, T = 7, heads = 2, d = 32;
  const Tensor qkv = random_tensor({B, T, 3, heads, d}, 66);
  const Tensor bad_lengths = Tensor::from_vector(std::vector<std::int32_t>{7, 9, -1}, {B});
  Tensor context = Tensor::zeros({B, T, heads * d}), lse = Tensor::zeros({B, heads, T});
  const std::string expected = error_message<DataError>(
      [&] { serial.attention_forward(qkv, bad_lengths, false, {}, context, lse); });
  EXPECT_EQ(expected, "attention: key length 9 of sequence 1 is outside [0, 7]");
  const Tensor qkv_d = to_device(cuda, qkv), lengths_d = to_device(cuda, bad_lengths);
  Tensor context_d = cuda.allocate(context.shape(), DType::f32);
  Tensor lse_d = cuda.allocate(lse.shape(), DType::f32);
  Tensor dqkv_d = cuda.allocate(qkv.shape(), DType::f32);
  cuda.attention_forward(qkv_d, lengths_d, false, {}, context_d, lse_d);
  EXPECT_EQ(error_message<DataError>([&] { cuda.synchronize(); }), expected);
  cuda.attention_backward(qkv_d, lengths_d, false, context_d, lse_d, context_d, {}, dqkv_d);
  cuda.embedding_forward(table, ids, out);
  EXPECT_EQ(error_message<DataError>([&] { cuda.synchronize(); }), expected);
  EXPECT_NO_THROW(cuda.synchronize());

  // More pending checks than the backend has flags: it reads them early and goes on.
  const Tensor good_ids =
      to_device(cuda, Tensor::from_vector(std::vector<std::int32_t>{3, 1, 0, 10}, {4}));
  for (int call = 0; call < 150; ++call) cuda.embedding_forward(table, good_ids, out);
  EXPECT_NO_THROW(cuda.synchronize());
}

// Attention on a head size the kernel is built for (the op cases use odd ones,
// which the backend refuses), with uneven key lengths, dropout and causal masking.
TEST(CudaBackendOps, AttentionMatchesSerial) {
  CudaBackend cuda(0);
  SerialBackend serial;
  const std::int64_t B = 2, T = 7, heads = 2, d = 32;
  const Tensor qkv = random_tensor({B, T, 3, heads, d}, 64);
  const Tensor key_lengths = Tensor::from_vector(std::vector<std::int32_t>{7, 4}, {B});
  const Tensor dcontext = random_tensor({B, T, heads * d}, 65);
  for (const auto& [probability, causal] :
       {std::pair{0.0f, false}, std::pair{0.2f, false}, std::pair{0.0f, true},
        std::pair{0.2f, true}}) {
    SCOPED_TRACE(causal ? "causal" : "bidirectional");
    const AttentionDropout dropout{probability, 3, 11, 5};
    Tensor context = Tensor::zeros({B, T, heads * d}), lse = Tensor::zeros({B, heads, T});
    Tensor dqkv = Tensor::zeros(qkv.shape());
    serial.attention_forward(qkv, key_lengths, causal, dropout, context, lse);
    serial.attention_backward(qkv, key_lengths, causal, context, lse, dcontext, dropout, dqkv);
    const Tensor qkv_device = to_device(cuda, qkv), lengths_device = to_device(cuda, key_lengths);
    Tensor context_device = cuda.allocate(context.shape(), DType::f32);
    Tensor lse_device = cuda.allocate(lse.shape(), DType::f32);
    Tensor dqkv_device = cuda.allocate(qkv.shape(), DType::f32);
    cuda.attention_forward(qkv_device, lengths_device, causal, dropout, context_device,
                           lse_device);
    cuda.attention_backward(qkv_device, lengths_device, causal, context_device, lse_device,
                            to_device(cuda, dcontext), dropout, dqkv_device);
    EXPECT_TRUE(tensors_close(to_host(cuda, context_device), context, 1e-5, 1e-4)) << probability;
    EXPECT_TRUE(tensors_close(to_host(cuda, lse_device), lse, 1e-5, 1e-4)) << probability;
    EXPECT_TRUE(tensors_close(to_host(cuda, dqkv_device), dqkv, 1e-5, 1e-4)) << probability;
  }
}

// Attention forward and backward of one case on the serial backend and on
// the CUDA backend at each precision (host tensors out).
struct AttentionOutputs {
  Tensor context, lse, dqkv;
};
struct AttentionOnBackends {
  Tensor qkv, key_lengths, dcontext;
  AttentionDropout dropout;

  AttentionOnBackends(std::int64_t d, const AttentionDropout& dropout, std::uint64_t seed)
      : qkv(random_tensor({2, 19, 3, 1, d}, seed)),
        key_lengths(Tensor::from_vector(std::vector<std::int32_t>{19, 11}, {2})),
        dcontext(random_tensor({2, 19, d}, seed + 1)),
        dropout(dropout) {}

  AttentionOutputs serial() const {
    SerialBackend backend;
    AttentionOutputs out{Tensor::zeros(dcontext.shape()), Tensor::zeros({2, 1, 19}),
                         Tensor::zeros(qkv.shape())};
    backend.attention_forward(qkv, key_lengths, false, dropout, out.context, out.lse);
    backend.attention_backward(qkv, key_lengths, false, out.context, out.lse, dcontext, dropout,
                               out.dqkv);
    return out;
  }
  AttentionOutputs cuda(Precision precision) const {
    CudaBackend backend(0);
    backend.set_gemm_precision(precision);
    const Tensor qkv_device = to_device(backend, qkv);
    const Tensor lengths_device = to_device(backend, key_lengths);
    Tensor context = backend.allocate(dcontext.shape(), DType::f32);
    Tensor lse = backend.allocate({2, 1, 19}, DType::f32);
    Tensor dqkv = backend.allocate(qkv.shape(), DType::f32);
    backend.attention_forward(qkv_device, lengths_device, false, dropout, context, lse);
    backend.attention_backward(qkv_device, lengths_device, false, context, lse,
                               to_device(backend, dcontext), dropout, dqkv);
    return {to_host(backend, context), to_host(backend, lse), to_host(backend, dqkv)};
  }
};

// A data-parallel rank's attention dropout (first_index != 0) is drawn by the
// fp32 kernels even under bf16 precision (the tensor-core kernels refuse an
// offset): the same result as fp32 precision, bit for bit, and serial's masks.
TEST(CudaBackendOps, AttentionWithARanksDropoutOffsetTakesTheFp32KernelsUnderBf16) {
  const AttentionOnBackends attention(64, {0.1f, 3, 11, 5, 2 * 19 * 19 + 3}, 68);
  const AttentionOutputs expected = attention.serial();
  const AttentionOutputs fp32 = attention.cuda(Precision::fp32);
  const AttentionOutputs bf16 = attention.cuda(Precision::bf16);
  EXPECT_EQ(bf16.context.to_vector(), fp32.context.to_vector());
  EXPECT_EQ(bf16.dqkv.to_vector(), fp32.dqkv.to_vector());
  EXPECT_TRUE(tensors_close(fp32.context, expected.context, 1e-4, 1e-4));
  EXPECT_TRUE(tensors_close(fp32.dqkv, expected.dqkv, 1e-4, 1e-4));
}

// training.precision bf16 runs attention with bf16 products on tensor cores
// (kernels/attention_tensor_core.cu) where a head size has a kernel (64, 128):
// within the bf16 tolerance of serial's fp32 attention (operands rounded to
// bf16 on the way in: tests/kernels_attention_tensor_core_test.cc) and not
// the fp32 kernels' result. At d 32 the fp32 kernels run, bit for bit.
TEST(CudaBackendOps, Bf16PrecisionAttentionTakesTensorCoresWhereTheHeadSizeHasThem) {
  for (const std::int64_t d : {32, 64}) {
    const AttentionOnBackends attention(d, {0.1f, 3, 11, 5}, 66);
    const AttentionOutputs expected = attention.serial();
    const AttentionOutputs fp32 = attention.cuda(Precision::fp32);
    const AttentionOutputs bf16 = attention.cuda(Precision::bf16);
    EXPECT_TRUE(tensors_close(bf16.context, expected.context, 2e-2, 2e-2)) << d;
    EXPECT_TRUE(tensors_close(bf16.lse, expected.lse, 2e-2, 2e-2)) << d;
    EXPECT_TRUE(tensors_close(bf16.dqkv, expected.dqkv, 2e-2, 2e-2)) << d;
    const std::vector<float> a = fp32.context.to_vector(), b = bf16.context.to_vector();
    float largest_difference = 0.0f;
    for (std::size_t i = 0; i < a.size(); ++i)
      largest_difference = std::max(largest_difference, std::abs(a[i] - b[i]));
    if (d == 32)
      EXPECT_EQ(largest_difference, 0.0f) << "d 32 has no tensor-core kernel: fp32 kernels";
    else
      EXPECT_GT(largest_difference, 1e-5f) << "d 64 under bf16 should round its products";
  }
}

TEST(CudaBackendOps, OptimizerUpdatesAndSumOfSquaresMatchSerial) {
  CudaBackend cuda(0);
  SerialBackend serial;
  for (std::int64_t numel : {1, 37, 1031, 4099}) {
    SCOPED_TRACE(numel);
    Tensor parameter = random_tensor({numel}, 81), grad = random_tensor({numel}, 82);
    Tensor m = Tensor::zeros({numel}), v = Tensor::zeros({numel});
    Tensor velocity = random_tensor({numel}, 83), sgd_parameter = random_tensor({numel}, 84);
    Tensor parameter_d = to_device(cuda, parameter), grad_d = to_device(cuda, grad);
    Tensor m_d = to_device(cuda, m), v_d = to_device(cuda, v);
    Tensor velocity_d = to_device(cuda, velocity), sgd_parameter_d = to_device(cuda, sgd_parameter);
    for (std::int64_t step = 1; step <= 3; ++step) {
      const AdamWOptions options{1e-2f, 0.9f, 0.999f, 1e-8f, 0.1f, step};
      serial.adamw_update(parameter, grad, m, v, options);
      cuda.adamw_update(parameter_d, grad_d, m_d, v_d, options);
      serial.sgd_update(sgd_parameter, grad, velocity, 0.1f, 0.9f, 0.01f);
      cuda.sgd_update(sgd_parameter_d, grad_d, velocity_d, 0.1f, 0.9f, 0.01f);
    }
    EXPECT_TRUE(tensors_close(to_host(cuda, parameter_d), parameter, 1e-6, 1e-5));
    EXPECT_TRUE(tensors_close(to_host(cuda, m_d), m, 1e-6, 1e-5));
    EXPECT_TRUE(tensors_close(to_host(cuda, v_d), v, 1e-6, 1e-5));
    EXPECT_TRUE(tensors_close(to_host(cuda, sgd_parameter_d), sgd_parameter, 1e-6, 1e-5));
    EXPECT_TRUE(tensors_close(to_host(cuda, velocity_d), velocity, 1e-6, 1e-5));
    const double expected = serial.sum_of_squares(grad);
    EXPECT_NEAR(cuda.sum_of_squares(grad_d), expected, 1e-6 * expected);
  }
}

// The whole model's gradient norm in one pass: tensors of odd sizes, an empty
// one among them, against the serial backend's per-tensor sums.
TEST(CudaBackendOps, TotalSumOfSquaresMatchesSerialOverManyTensors) {
  CudaBackend cuda(0);
  SerialBackend serial;
  std::vector<Tensor> host, device;
  for (std::int64_t numel : {1, 4099, 0, 37, 70000, 1031}) {
    host.push_back(random_tensor({numel}, 90 + static_cast<std::uint64_t>(host.size())));
    device.push_back(to_device(cuda, host.back()));
  }
  std::vector<const Tensor*> on_device, on_host;
  for (std::size_t i = 0; i < host.size(); ++i) {
    on_device.push_back(&device[i]);
    on_host.push_back(&host[i]);
  }
  double expected = 0.0;
  for (const Tensor& x : host) expected += serial.sum_of_squares(x);
  EXPECT_NEAR(serial.total_sum_of_squares(on_host), expected, 1e-12 * expected);
  EXPECT_NEAR(cuda.total_sum_of_squares(on_device), expected, 1e-9 * expected);
  EXPECT_EQ(cuda.total_sum_of_squares({}), 0.0);
}

// ---- the recurrent layer -------------------------------------------------------

void expect_rnn_matches_serial(const RnnCase& c) {
  SCOPED_TRACE(describe(c));
  SerialBackend serial;
  CudaBackend cuda(0);
  RnnTensors expected = make_rnn_inputs(c);
  RnnTensors on_device;
  for (const auto& [name, host] : expected.t) on_device.t[name] = to_device(cuda, host);
  run_rnn(serial, c, expected);
  run_rnn(cuda, c, on_device);
  for (const char* name : {"y", "h_n", "c_n", "workspace", "dx", "dweight_ih", "dweight_hh",
                           "dbias_ih", "dbias_hh", "dh0", "dc0"})
    EXPECT_TRUE(tensors_close(to_host(cuda, on_device.t.at(name)), expected.t.at(name), 1e-5, 1e-4))
        << name;
}

class CudaBackendRnn : public ::testing::TestWithParam<RnnCell> {
 protected:
  RnnCase with_cell() const {
    RnnCase c;
    c.cell = GetParam();
    return c;
  }
};

TEST_P(CudaBackendRnn, MatchesSerialInBothDirections) {
  for (bool reverse : {false, true}) {
    RnnCase c = with_cell();
    c.reverse = reverse;
    expect_rnn_matches_serial(c);
  }
}

TEST_P(CudaBackendRnn, ZeroStateAndPartialGradientsMatchSerial) {
  for (bool reverse : {false, true}) {
    RnnCase c = with_cell();
    c.reverse = reverse;
    c.initial_state = false;
    c.state_grad = false;
    expect_rnn_matches_serial(c);
    c.initial_state = true;
    c.state_grad = true;
    c.output_grad = false;
    expect_rnn_matches_serial(c);
  }
}

TEST_P(CudaBackendRnn, OneStepAndStepsNoRowReaches) {
  RnnCase one_step = with_cell();
  one_step.steps = 1;
  one_step.lengths = {1, 1, 1, 1, 1};
  expect_rnn_matches_serial(one_step);
  RnnCase short_rows = with_cell();
  short_rows.reverse = true;
  short_rows.lengths = {3, 2, 4, 1, 4};  // no row reaches steps 4 and 5
  expect_rnn_matches_serial(short_rows);
}

INSTANTIATE_TEST_SUITE_P(Cells, CudaBackendRnn,
                         ::testing::Values(RnnCell::lstm, RnnCell::gru, RnnCell::rnn_tanh),
                         [](const auto& info) { return std::string(rnn_cell_name(info.param)); });

TEST(CudaBackendRnnLengths, BadLengthIsADataError) {
  RnnCase c;
  c.lengths = {6, 0, 5, 1, 4};
  CudaBackend cuda(0);
  RnnTensors host = make_rnn_inputs(c);
  RnnTensors on_device;
  for (const auto& [name, tensor] : host.t) on_device.t[name] = to_device(cuda, tensor);
  try {
    run_rnn(cuda, c, on_device);
    FAIL() << "no error for a length of 0";
  } catch (const DataError& error) {
    EXPECT_NE(std::string(error.what()).find("sequence 1 has length 0"), std::string::npos)
        << error.what();
  }
}

// ---- memory -------------------------------------------------------------------

TEST(CudaBackendMemory, FreedTensorsAreReusedWithoutNewDeviceAllocations) {
  CudaBackend cuda(0);
  const cuda::DeviceAllocatorStats start = cuda.allocator_stats();  // the backend's own flag
  { Tensor first = cuda.allocate({1000}, DType::f32); }
  const cuda::DeviceAllocatorStats after_first = cuda.allocator_stats();
  EXPECT_EQ(after_first.device_mallocs, start.device_mallocs + 1);
  EXPECT_EQ(after_first.in_use_blocks, start.in_use_blocks);
  EXPECT_EQ(after_first.cached_blocks, start.cached_blocks + 1);
  Tensor again = cuda.allocate({999}, DType::f32);  // the same size class
  const cuda::DeviceAllocatorStats stats = cuda.allocator_stats();
  EXPECT_EQ(stats.device_mallocs, after_first.device_mallocs);
  EXPECT_EQ(stats.in_use_blocks, start.in_use_blocks + 1);
  EXPECT_EQ(stats.cached_blocks, start.cached_blocks);
}

// Up to 1 MiB: multiples of 512 bytes; above: at most an eighth more than asked.
TEST(CudaBackendMemory, SizeClassesWasteLittle) {
  for (std::size_t bytes :
       {1ul, 511ul, 513ul, 1000001ul, 1ul << 20, (1ul << 20) + 1, 3ul << 20, (7ul << 30) + 12345}) {
    const std::size_t rounded = cuda::DeviceAllocator::size_class(bytes);
    EXPECT_GE(rounded, bytes);
    if (bytes <= (1ul << 20))
      EXPECT_EQ(rounded, (bytes + 511) / 512 * 512) << bytes;
    else
      EXPECT_LE(rounded, bytes + bytes / 8) << bytes;
  }
}

// ---- end to end ------------------------------------------------------------------

// Five steps of the LSTM adding-problem run of precision_test_support.h.
TEST(CudaBackendTraining, LstmAddingProblemMatchesTheCpuBackend) {
  CpuBackend cpu(2);
  CudaBackend cuda(0);
  const AddingTrace expected = train_adding(cpu, Precision::fp32, 5);
  const AddingTrace actual = train_adding(cuda, Precision::fp32, 5);
  ASSERT_EQ(actual.losses.size(), expected.losses.size());
  for (std::size_t step = 0; step < expected.losses.size(); ++step)
    EXPECT_NEAR(actual.losses[step], expected.losses[step], 1e-5 + 1e-4 * expected.losses[step])
        << "step " << step + 1;
  // The losses change from step to step: the run trains.
  EXPECT_NE(expected.losses.front(), expected.losses.back());
  for (const auto& [name, value] : expected.parameters)
    EXPECT_TRUE(tensors_close(actual.parameters.at(name), value, 1e-5, 1e-4)) << name;
}

// ---- mixed precision (training.precision bf16) -----------------------------------

// matmul's operands rounded to bf16 on the device (kernels' to_bf16, then
// cuBLAS with bf16 inputs): the serial oracle's bf16 product.
TEST(CudaBackendGemm, Bf16PrecisionMatchesSerialBf16) {
  SerialBackend serial;
  CudaBackend cuda(0);
  serial.set_gemm_precision(Precision::bf16);
  cuda.set_gemm_precision(Precision::bf16);
  for (const MatmulCase& c :
       {MatmulCase{{13, 37}, {37, 21}, false, false, 1.0f, 0.0f},
        MatmulCase{{37, 13}, {21, 37}, true, true, 0.5f, 1.0f},
        MatmulCase{{3, 13, 37}, {37, 21}, false, false, 1.0f, 0.0f},
        MatmulCase{{3, 37, 13}, {3, 37, 21}, true, false, 2.0f, 0.5f}}) {
    const Tensor a = random_tensor(c.a, 41), b = random_tensor(c.b, 42);
    Tensor expected = random_tensor(output_shape(c), 43);
    Tensor actual = to_device(cuda, expected);
    serial.matmul(a, b, expected, c.transpose_a, c.transpose_b, c.alpha, c.beta);
    cuda.matmul(to_device(cuda, a), to_device(cuda, b), actual, c.transpose_a, c.transpose_b,
                c.alpha, c.beta);
    EXPECT_TRUE(tensors_close(to_host(cuda, actual), expected, 1e-5, 1e-5)) << describe(c);
  }
}

// 20 steps in bf16 against 20 in fp32 on the emulated device (two tests, so
// ctest runs them side by side: the BERT one takes about a minute here).
TEST(CudaBackendTraining, TwentyBf16AddingStepsStayNearFp32AndKeepLearning) {
  CudaBackend cuda(0);
  expect_bf16_tracks_fp32(adding_losses(cuda, Precision::bf16, 20),
                          adding_losses(cuda, Precision::fp32, 20));
}

// The Transformer sequence model (attention, layernorm, GELU, position
// embeddings, sequence_last) trains on the device as on the cpu backend.
TEST(CudaBackendTraining, TransformerAddingStepsMatchTheCpuBackend) {
  CpuBackend cpu(2);
  CudaBackend cuda(0);
  const std::vector<double> expected = adding_losses(cpu, Precision::fp32, 4, ModelType::transformer);
  const std::vector<double> actual = adding_losses(cuda, Precision::fp32, 4, ModelType::transformer);
  ASSERT_EQ(actual.size(), expected.size());
  for (std::size_t step = 0; step < expected.size(); ++step)
    EXPECT_NEAR(actual[step], expected[step], 1e-5 + 1e-4 * expected[step]) << "step " << step + 1;
  EXPECT_NE(expected.front(), expected.back());
}

// A causal Transformer char-LM (one layer, one head of 32, T 12, dropout 0.1,
// uneven lengths) trained four AdamW steps on two fixed batches in turn.
std::vector<double> transformer_charlm_losses(Backend& backend, int steps) {
  constexpr std::int64_t kSteps = 12, kBatch = 4, kVocabulary = 13;
  ParameterStore parameters(backend);
  SequenceModelSpec spec;
  spec.task = Task::charlm;
  spec.type = ModelType::transformer;
  spec.hidden_size = 32;
  spec.heads = 1;
  spec.intermediate_size = 64;
  spec.max_positions = kSteps;
  spec.dropout = 0.1f;
  spec.vocabulary_size = static_cast<int>(kVocabulary);
  spec.output_size = static_cast<int>(kVocabulary);
  std::unique_ptr<SequenceModel> model = make_sequence_model(spec, parameters, 19);
  AdamWOptimizer optimizer(parameters, AdamWOptimizerOptions{});
  SequenceRunner runner(*model, backend, parameters, false);
  std::vector<SequenceBatch> batches(2);
  for (std::size_t i = 0; i < batches.size(); ++i) {
    SequenceBatch& batch = batches[i];
    batch.tokens = random_ids({kSteps, kBatch}, kVocabulary, 70 + i);
    batch.targets = random_ids({kSteps, kBatch}, kVocabulary, 80 + i);
    batch.lengths = Tensor::from_vector(std::vector<std::int32_t>{12, 9, 12, 5}, {kBatch});
    for (std::int64_t t = 0; t < kSteps; ++t)
      for (std::int64_t b = 0; b < kBatch; ++b)
        if (t >= batch.lengths.data<std::int32_t>()[b])
          batch.targets.data<std::int32_t>()[t * kBatch + b] = kIgnoreTarget;
  }
  std::vector<double> losses;
  for (int step = 1; step <= steps; ++step) {
    parameters.zero_grads();
    const RunContext context{19, static_cast<std::uint64_t>(step - 1), true};
    losses.push_back(
        runner.train_batch(batches[static_cast<std::size_t>(step - 1) % 2], context).mean_loss());
    EXPECT_TRUE(clip_gradients_by_global_norm(parameters, 1.0).finite);
    optimizer.step(1e-2f);
  }
  return losses;
}

// The causal attention kernels inside a whole model: the device's steps match
// the cpu backend's (same dropout masks, same causal masking).
TEST(CudaBackendTraining, TransformerCharLmStepsMatchTheCpuBackend) {
  CpuBackend cpu(2);
  CudaBackend cuda(0);
  const std::vector<double> expected = transformer_charlm_losses(cpu, 4);
  const std::vector<double> actual = transformer_charlm_losses(cuda, 4);
  ASSERT_EQ(actual.size(), expected.size());
  for (std::size_t step = 0; step < expected.size(); ++step)
    EXPECT_NEAR(actual[step], expected[step], 1e-5 + 1e-4 * expected[step]) << "step " << step + 1;
  EXPECT_NE(expected.front(), expected.back());
}

TEST(CudaBackendTraining, TwentyBf16BertStepsStayNearFp32AndKeepLearning) {
  CudaBackend cuda(0);
  expect_bf16_tracks_fp32(bert_losses(cuda, Precision::bf16, 20),
                          bert_losses(cuda, Precision::fp32, 20));
}

// One head of 64: bf16 attention runs on the tensor-core kernels
// (kernels/attention_tensor_core.cu) in training, forward and backward.
TEST(CudaBackendTraining, TenBf16BertStepsWithTensorCoreAttentionStayNearFp32) {
  CudaBackend cuda(0);
  expect_bf16_tracks_fp32(bert_losses(cuda, Precision::bf16, 10, 1),
                          bert_losses(cuda, Precision::fp32, 10, 1));
}

}  // namespace
}  // namespace seqtrain::testing
