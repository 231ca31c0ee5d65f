// One LSTM layer, forward + backward, fp32, time-major: batch 32, T 128,
// input 256, hidden 512. Three implementations in one process, with the same
// threads (OMP_NUM_THREADS) and environment:
//   seqtrain/serial   the scalar oracle (the baseline of the affinity report)
//   seqtrain/cpu      our fused layer: one input GEMM, per step one recurrent
//                     GEMM + one fused gate pass, weight gradients as one GEMM each
//   onednn            oneDNN's own LSTM primitive (forward_training + backward),
//                     weights reordered once into its preferred layout outside
//                     the timed loop, explicit zero initial states (oneDNN 2.6
//                     returns a wrong weights_iter gradient without them)
// and, where a GPU answers, the same layer on the cuda backend twice:
//   cuda/fused        our cell kernels + cuBLAS (src/backends/cuda/cuda_rnn.cc)
//   cuda/cudnn        cuDNN's RNN (model.impl: cudnn, src/backends/cuda/cudnn_rnn.h)
// (each iteration ends by copying the bias gradient to the host, which waits
// for the device; without a GPU they are reported as skipped).
// Counters: tokens/s (T * B per iteration) and GFLOP/s (6 multiply-adds per
// weight per token forward and backward: 2 forward + 4 backward).
//
// Run: OMP_NUM_THREADS=1 build/release/bench/lstm_layer_bench  (and =2)
#include <omp.h>

#include <benchmark/benchmark.h>

#include "bench_backends.h"
#include <oneapi/dnnl/dnnl.hpp>

#include "seqtrain/backend.h"
#include "seqtrain/error.h"
#include "seqtrain/parameters.h"
#include "seqtrain/rng.h"

namespace seqtrain {
namespace {

constexpr std::int64_t kBatch = 32, kSteps = 128, kInput = 256, kHidden = 512;
constexpr std::int64_t kGates = 4 * kHidden;

double flops_per_iteration() {
  return 6.0 * static_cast<double>(kSteps * kBatch) * static_cast<double>(kGates) *
         static_cast<double>(kInput + kHidden);
}

void set_counters(benchmark::State& state) {
  const double iterations = static_cast<double>(state.iterations());
  state.counters["tokens_per_s"] = benchmark::Counter(iterations * kSteps * kBatch, benchmark::Counter::kIsRate);
  state.counters["GFLOP_per_s"] = benchmark::Counter(iterations * flops_per_iteration() / 1e9, benchmark::Counter::kIsRate);
  state.counters["threads"] = omp_get_max_threads();
}

Tensor random_host(const Shape& shape, std::uint64_t stream, float bound) {
  Rng rng(17, stream);
  return uniform_tensor(shape, bound, rng);
}

void run_seqtrain_layer(benchmark::State& state, Backend& backend) {
  const float bound = 1.0f / std::sqrt(static_cast<float>(kHidden));
  auto make = [&](const Shape& shape, std::uint64_t stream, float scale) {
    Tensor host = random_host(shape, stream, scale);
    Tensor tensor = backend.allocate(shape, DType::f32);
    backend.copy_from_host(host, tensor);
    return tensor;
  };
  Tensor x = make({kSteps, kBatch, kInput}, 1, 1.0f);
  Tensor weight_ih = make({kGates, kInput}, 2, bound), weight_hh = make({kGates, kHidden}, 3, bound);
  Tensor bias_ih = make({kGates}, 4, bound), bias_hh = make({kGates}, 5, bound);
  Tensor dy = make({kSteps, kBatch, kHidden}, 6, 1.0f);
  Tensor host_lengths = Tensor::empty({kBatch}, DType::i32);
  for (auto& length : host_lengths.span<std::int32_t>()) length = static_cast<std::int32_t>(kSteps);
  Tensor lengths = backend.allocate({kBatch}, DType::i32);
  backend.copy_from_host(host_lengths, lengths);
  auto zeros = [&](const Shape& shape) {
    Tensor tensor = backend.allocate(shape, DType::f32);
    backend.fill_zero(tensor);
    return tensor;
  };
  Tensor y = zeros({kSteps, kBatch, kHidden}), h_n = zeros({kBatch, kHidden}), c_n = zeros({kBatch, kHidden});
  Tensor workspace = zeros({kSteps, kBatch, 5 * kHidden}),
         projection = zeros({kSteps, kBatch, kGates});
  Tensor dx = zeros(x.shape()), dweight_ih = zeros(weight_ih.shape()), dweight_hh = zeros(weight_hh.shape());
  Tensor dbias_ih = zeros({kGates}), dbias_hh = zeros({kGates}), dh0 = zeros({kBatch, kHidden}),
         dc0 = zeros({kBatch, kHidden}), gate_grads = zeros({kSteps, kBatch, kGates});
  RnnForwardArgs forward{RnnCell::lstm, false, &x, &weight_ih, &weight_hh, &bias_ih, &bias_hh,
                         nullptr, nullptr, &lengths, &y, &h_n, &c_n, &workspace, &projection};
  RnnBackwardArgs backward{RnnCell::lstm, false, &x, &weight_ih, &weight_hh, nullptr, nullptr,
                           &lengths, &y, &workspace, &dy, nullptr, nullptr, &dx, &dweight_ih,
                           &dweight_hh, &dbias_ih, &dbias_hh, &dh0, &dc0, &gate_grads};
  Tensor bias_grad_on_host = Tensor::empty({kGates}, DType::f32);
  for (auto _ : state) {
    backend.rnn_forward(forward);
    backend.rnn_backward(backward);
    backend.copy_to_host(dbias_hh, bias_grad_on_host);  // waits for a GPU
    benchmark::DoNotOptimize(bias_grad_on_host.raw());
  }
  set_counters(state);
}

void BM_LstmLayer_SeqtrainCpu(benchmark::State& state) {
  auto backend = make_cpu_backend(omp_get_max_threads());
  run_seqtrain_layer(state, *backend);
}

void BM_LstmLayer_SeqtrainSerial(benchmark::State& state) {
  auto backend = make_serial_backend();
  run_seqtrain_layer(state, *backend);
}

void run_on_cuda(benchmark::State& state, RnnImpl impl) {
  if (std::unique_ptr<Backend> backend = cuda_backend_or_skip(state, impl))
    run_seqtrain_layer(state, *backend);
}

void BM_LstmLayer_CudaFused(benchmark::State& state) { run_on_cuda(state, RnnImpl::fused); }

void BM_LstmLayer_CudaCudnn(benchmark::State& state) { run_on_cuda(state, RnnImpl::cudnn); }

void BM_LstmLayer_OneDnn(benchmark::State& state) {
  using namespace dnnl;
  using tag = memory::format_tag;
  using dt = memory::data_type;
  engine cpu(engine::kind::cpu, 0);
  stream strm(cpu);
  const memory::dim T = kSteps, N = kBatch, C = kInput, O = kHidden;
  auto md = [](memory::dims dims, tag format) { return memory::desc(dims, dt::f32, format); };
  memory::desc src_layer = md({T, N, C}, tag::tnc), dst_layer = md({T, N, O}, tag::tnc);
  memory::desc state_md = md({1, 1, N, O}, tag::ldnc);
  memory::desc weights_layer_any = md({1, 1, C, 4, O}, tag::any);
  memory::desc weights_iter_any = md({1, 1, O, 4, O}, tag::any);
  memory::desc bias = md({1, 1, 4, O}, tag::ldgo);

  lstm_forward::primitive_desc forward_pd(
      lstm_forward::desc(prop_kind::forward_training, rnn_direction::unidirectional_left2right,
                         src_layer, state_md, state_md, weights_layer_any, weights_iter_any, bias,
                         dst_layer, state_md, state_md),
      cpu);
  lstm_backward::primitive_desc backward_pd(
      lstm_backward::desc(prop_kind::backward, rnn_direction::unidirectional_left2right,
                          src_layer, state_md, state_md, weights_layer_any, weights_iter_any, bias, dst_layer, state_md, state_md,
                          src_layer, state_md, state_md, weights_layer_any, weights_iter_any, bias,
                          dst_layer, state_md, state_md),
      cpu, forward_pd);

  auto filled = [&](const memory::desc& desc, std::uint64_t stream_id, float scale) {
    memory m(desc, cpu);
    Rng rng(17, stream_id);
    auto* data = static_cast<float*>(m.get_data_handle());
    for (std::size_t i = 0; i < desc.get_size() / sizeof(float); ++i)
      data[i] = (2.0f * rng.next_uniform() - 1.0f) * scale;
    return m;
  };
  auto zeroed = [&](const memory::desc& desc) {
    memory m(desc, cpu);
    std::memset(m.get_data_handle(), 0, desc.get_size());
    return m;
  };
  const float bound = 1.0f / std::sqrt(static_cast<float>(O));
  memory src = filled(src_layer, 1, 1.0f);
  // User weights in ldigo, reordered once into the primitive's layout.
  memory user_weights_layer = filled(md({1, 1, C, 4, O}, tag::ldigo), 2, bound);
  memory user_weights_iter = filled(md({1, 1, O, 4, O}, tag::ldigo), 3, bound);
  memory weights_layer(forward_pd.weights_layer_desc(), cpu);
  memory weights_iter(forward_pd.weights_iter_desc(), cpu);
  reorder(user_weights_layer, weights_layer).execute(strm, user_weights_layer, weights_layer);
  reorder(user_weights_iter, weights_iter).execute(strm, user_weights_iter, weights_iter);
  memory bias_memory = filled(bias, 4, bound);
  memory h0 = zeroed(state_md), c0 = zeroed(state_md);
  memory dst = zeroed(dst_layer), h_n = zeroed(state_md), c_n = zeroed(state_md);
  memory workspace(forward_pd.workspace_desc(), cpu);
  memory diff_dst = filled(dst_layer, 6, 1.0f);
  memory diff_h_n = zeroed(state_md), diff_c_n = zeroed(state_md);
  memory diff_src = zeroed(src_layer), diff_h0 = zeroed(state_md), diff_c0 = zeroed(state_md);
  memory diff_weights_layer = zeroed(backward_pd.diff_weights_layer_desc());
  memory diff_weights_iter = zeroed(backward_pd.diff_weights_iter_desc());
  memory diff_bias = zeroed(bias);
  // The backward primitive may want the weights in another layout than forward.
  memory backward_weights_layer(backward_pd.weights_layer_desc(), cpu);
  memory backward_weights_iter(backward_pd.weights_iter_desc(), cpu);
  reorder(weights_layer, backward_weights_layer).execute(strm, weights_layer, backward_weights_layer);
  reorder(weights_iter, backward_weights_iter).execute(strm, weights_iter, backward_weights_iter);

  lstm_forward forward(forward_pd);
  lstm_backward backward(backward_pd);
  for (auto _ : state) {
    forward.execute(strm, {{DNNL_ARG_SRC_LAYER, src}, {DNNL_ARG_SRC_ITER, h0},
                           {DNNL_ARG_SRC_ITER_C, c0}, {DNNL_ARG_WEIGHTS_LAYER, weights_layer},
                           {DNNL_ARG_WEIGHTS_ITER, weights_iter}, {DNNL_ARG_BIAS, bias_memory},
                           {DNNL_ARG_DST_LAYER, dst}, {DNNL_ARG_DST_ITER, h_n},
                           {DNNL_ARG_DST_ITER_C, c_n}, {DNNL_ARG_WORKSPACE, workspace}});
    // Gradients accumulate in oneDNN's RNN backward: zero them as a trainer would.
    std::memset(diff_weights_layer.get_data_handle(), 0, backward_pd.diff_weights_layer_desc().get_size());
    std::memset(diff_weights_iter.get_data_handle(), 0, backward_pd.diff_weights_iter_desc().get_size());
    std::memset(diff_bias.get_data_handle(), 0, bias.get_size());
    backward.execute(strm, {{DNNL_ARG_SRC_LAYER, src}, {DNNL_ARG_SRC_ITER, h0},
                            {DNNL_ARG_SRC_ITER_C, c0}, {DNNL_ARG_WEIGHTS_LAYER, backward_weights_layer},
                            {DNNL_ARG_WEIGHTS_ITER, backward_weights_iter}, {DNNL_ARG_BIAS, bias_memory},
                            {DNNL_ARG_DST_LAYER, dst}, {DNNL_ARG_DST_ITER, h_n},
                            {DNNL_ARG_DST_ITER_C, c_n}, {DNNL_ARG_WORKSPACE, workspace},
                            {DNNL_ARG_DIFF_DST_LAYER, diff_dst}, {DNNL_ARG_DIFF_DST_ITER, diff_h_n},
                            {DNNL_ARG_DIFF_DST_ITER_C, diff_c_n}, {DNNL_ARG_DIFF_SRC_LAYER, diff_src},
                            {DNNL_ARG_DIFF_SRC_ITER, diff_h0}, {DNNL_ARG_DIFF_SRC_ITER_C, diff_c0},
                            {DNNL_ARG_DIFF_WEIGHTS_LAYER, diff_weights_layer},
                            {DNNL_ARG_DIFF_WEIGHTS_ITER, diff_weights_iter},
                            {DNNL_ARG_DIFF_BIAS, diff_bias}});
    strm.wait();
  }
  set_counters(state);
}

}  // namespace
}  // namespace seqtrain

BENCHMARK(seqtrain::BM_LstmLayer_SeqtrainCpu)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3.0);
BENCHMARK(seqtrain::BM_LstmLayer_OneDnn)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3.0);
BENCHMARK(seqtrain::BM_LstmLayer_SeqtrainSerial)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);
BENCHMARK(seqtrain::BM_LstmLayer_CudaFused)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);
BENCHMARK(seqtrain::BM_LstmLayer_CudaCudnn)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);
BENCHMARK_MAIN();
