// GEMMs of the cpu backend through oneDNN matmul primitives.
//
// With training.precision bf16, matmul rounds A and B into bf16 copies of the
// same layout (round to nearest even, one pass each) and runs oneDNN's bf16
// matmul (fp32 accumulation, f32 C); the raw gemm of the recurrent layers
// stays fp32.
//
// C = alpha * op(A) op(B) + beta * C, row-major. Transposes and leading
// dimensions are expressed as strides in the memory descriptors, so oneDNN
// reads the operands where they lie: no copies, no reorders. alpha is an
// output scale and beta a sum post-op (dst = alpha * acc + beta * dst), both
// applied inside the kernel while C is in registers; beta = 0 has no post-op,
// so C is written without being read (NaN in C does not leak through).
//
// Transposed A is the exception. oneDNN 2.6's f32 GEMM reads a strided
// (column-major) A about half as fast as a dense one: [4096,1024]^T x
// [4096,256] took 95 ms against 46 ms for the same product with A dense, on
// one AVX2 thread. A oneDNN reorder writes A^T densely in ~10 ms (a pass over
// 16 MB), so above a few thousand elements we transpose into a scratch tensor
// and run the plain GEMM (weight gradients dW = dY^T X in attention, the
// feed-forward layers and the LSTM go this way).
//
// Primitives are cached per GemmShape (onednn_gemm.h) with user-managed
// scratchpad, and executed through the C API with a fixed argument array, so a
// replayed GEMM allocates nothing on our side.
#include <omp.h>
#include <oneapi/dnnl/dnnl_debug.h>

#include "backends/cpu/onednn_gemm.h"
#include "seqtrain/bfloat16.h"

namespace seqtrain {
namespace {

using dnnl::memory;

// Below this many elements of A a transposed GEMM is cheap enough that the
// copy does not pay (measured equal at [64,256]^T x [64,256]).
constexpr std::int64_t kTransposeMinElements = 32768;

// Descriptor of a [rows, cols] matrix (or [batch, rows, cols] when rank3) with
// the given element strides.
memory::desc matrix_desc(bool rank3, std::int64_t batch, std::int64_t batch_stride,
                         std::int64_t rows, std::int64_t cols, std::int64_t row_stride,
                         std::int64_t col_stride,
                         memory::data_type type = memory::data_type::f32) {
  if (!rank3) return memory::desc({rows, cols}, type, memory::dims{row_stride, col_stride});
  return memory::desc({batch, rows, cols}, type,
                      memory::dims{batch_stride, row_stride, col_stride});
}

// out[i] = x[i] rounded to bf16 (nearest even), over the pool.
void convert_to_bf16(const float* x, std::int64_t count, std::uint16_t* out) {
#pragma omp parallel for schedule(static) if (count >= 65536)
  for (std::int64_t i = 0; i < count; ++i) out[i] = bf16_bits_of(x[i]);
}

// A buffer of at least count bf16 values.
std::uint16_t* bf16_buffer(Tensor& buffer, std::int64_t count) {
  if (buffer.numel() < count) buffer = Tensor::empty({count}, DType::bf16);
  return static_cast<std::uint16_t*>(buffer.raw());
}

std::string describe(const GemmShape& s) {
  return fmt::format(
      "batch {} m {} n {} k {} transpose_a {} transpose_b {} lda {} ldb {} ldc {} strides {} {} "
      "{} alpha {} beta {}",
      s.batch, s.m, s.n, s.k, s.transpose_a, s.transpose_b, s.lda, s.ldb, s.ldc, s.stride_a,
      s.stride_b, s.stride_c, s.alpha, s.beta);
}

}  // namespace

CpuBackend::OneDnn::OneDnn(int pool_threads)
    : engine(dnnl::engine::kind::cpu, 0), stream(engine), threads(pool_threads) {}

CachedGemm& CpuBackend::OneDnn::find_or_create(const GemmShape& s) {
  auto found = cache.find(s);
  if (found != cache.end()) return found->second;

  const bool rank3 = s.batch > 1;
  const memory::data_type input_type =
      s.bf16_inputs ? memory::data_type::bf16 : memory::data_type::f32;
  // op(A) is [m, k]: stored [m, k] with row stride lda, or [k, m] read transposed.
  const memory::desc a_desc =
      matrix_desc(rank3, s.batch, s.stride_a, s.m, s.k, s.transpose_a ? 1 : s.lda,
                  s.transpose_a ? s.lda : 1, input_type);
  // op(B) is [k, n]; a shared B is a batch of one that oneDNN broadcasts.
  const std::int64_t b_span = s.ldb * (s.transpose_b ? s.n : s.k);
  const memory::desc b_desc =
      matrix_desc(rank3, s.stride_b == 0 ? 1 : s.batch, s.stride_b == 0 ? b_span : s.stride_b, s.k,
                  s.n, s.transpose_b ? 1 : s.ldb, s.transpose_b ? s.ldb : 1, input_type);
  const memory::desc c_desc = matrix_desc(rank3, s.batch, s.stride_c, s.m, s.n, s.ldc, 1);

  CachedGemm entry;
  try {
    dnnl::primitive_attr attributes;
    attributes.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    if (s.alpha != 1.0f) attributes.set_output_scales(0, {s.alpha});
    if (s.beta != 0.0f) {
      dnnl::post_ops post_ops;
      post_ops.append_sum(s.beta);
      attributes.set_post_ops(post_ops);
    }
    const dnnl::matmul::primitive_desc descriptor(dnnl::matmul::desc(a_desc, b_desc, c_desc),
                                                  attributes, engine);
    entry.primitive = dnnl::matmul(descriptor);
    entry.a = memory(a_desc, engine, DNNL_MEMORY_NONE);
    entry.b = memory(b_desc, engine, DNNL_MEMORY_NONE);
    entry.c = memory(c_desc, engine, DNNL_MEMORY_NONE);
    const memory::desc scratchpad_desc = descriptor.scratchpad_desc();
    entry.scratchpad_bytes = scratchpad_desc.get_size();
    if (entry.scratchpad_bytes > 0)
      entry.scratchpad = memory(scratchpad_desc, engine, DNNL_MEMORY_NONE);
  } catch (const dnnl::error& error) {
    throw_internal_error(
        __FILE__, __LINE__, "oneDNN matmul primitive creation",
        fmt::format("{} ({}) for {}", error.what(), dnnl_status2str(error.status), describe(s)));
  }
  if (entry.scratchpad_bytes > scratchpad.bytes())
    scratchpad = Tensor::empty({static_cast<std::int64_t>(entry.scratchpad_bytes)}, DType::i32);
  return cache.emplace(s, std::move(entry)).first->second;
}

const float* CpuBackend::OneDnn::transpose_a(const GemmShape& s, const float* a) {
  const TransposeShape key{s.batch, s.m, s.k, s.lda, s.stride_a};
  auto found = transposes.find(key);
  if (found == transposes.end()) {
    const bool rank3 = s.batch > 1;
    // The same logical [batch,] [m, k] matrix, read through A's strides and
    // written dense.
    const memory::desc source = matrix_desc(rank3, s.batch, s.stride_a, s.m, s.k, 1, s.lda);
    const memory::desc destination = matrix_desc(rank3, s.batch, s.m * s.k, s.m, s.k, s.k, 1);
    CachedTranspose entry;
    try {
      entry.primitive =
          dnnl::reorder(dnnl::reorder::primitive_desc(engine, source, engine, destination));
      entry.source = memory(source, engine, DNNL_MEMORY_NONE);
      entry.destination = memory(destination, engine, DNNL_MEMORY_NONE);
    } catch (const dnnl::error& error) {
      throw_internal_error(
          __FILE__, __LINE__, "oneDNN transpose reorder creation",
          fmt::format("{} ({}) for {}", error.what(), dnnl_status2str(error.status), describe(s)));
    }
    found = transposes.emplace(key, std::move(entry)).first;
  }
  const std::int64_t elements = s.batch * s.m * s.k;
  if (transposed_a.numel() < elements) transposed_a = Tensor::empty({elements}, DType::f32);
  CachedTranspose& entry = found->second;
  entry.source.set_data_handle(const_cast<float*>(a));
  entry.destination.set_data_handle(transposed_a.raw());
  dnnl_exec_arg_t arguments[2] = {{DNNL_ARG_FROM, entry.source.get()},
                                  {DNNL_ARG_TO, entry.destination.get()}};
  const dnnl_status_t status =
      dnnl_primitive_execute(entry.primitive.get(), stream.get(), 2, arguments);
  SEQTRAIN_CHECK(status == dnnl_success, "oneDNN transpose reorder failed ({}) for {}",
                 dnnl_status2str(status), describe(s));
  return transposed_a.data<float>();
}

void CpuBackend::OneDnn::run(const GemmShape& s, const void* a, const void* b, float* c) {
  if (s.batch == 0 || s.m == 0 || s.n == 0) return;
  if (s.k == 0) {  // op(A) op(B) is all zeros: C = beta * C
    for (std::int64_t batch_index = 0; batch_index < s.batch; ++batch_index)
      for (std::int64_t i = 0; i < s.m; ++i) {
        float* row = c + batch_index * s.stride_c + i * s.ldc;
        for (std::int64_t j = 0; j < s.n; ++j) row[j] = s.beta == 0.0f ? 0.0f : s.beta * row[j];
      }
    return;
  }
  // oneDNN sizes its OpenMP team from the calling thread's ICV; another
  // backend instance (or a caller's thread) may have set it differently.
  if (!omp_in_parallel() && omp_get_max_threads() != threads) omp_set_num_threads(threads);
  if (s.transpose_a && !s.bf16_inputs && s.m * s.k >= kTransposeMinElements) {
    GemmShape dense = s;
    dense.transpose_a = false;
    dense.lda = s.k;
    dense.stride_a = s.m * s.k;
    run(dense, transpose_a(s, static_cast<const float*>(a)), b, c);
    return;
  }
  CachedGemm& entry = find_or_create(s);
  entry.a.set_data_handle(const_cast<void*>(a));
  entry.b.set_data_handle(const_cast<void*>(b));
  entry.c.set_data_handle(c);
  dnnl_exec_arg_t arguments[4] = {{DNNL_ARG_SRC, entry.a.get()},
                                  {DNNL_ARG_WEIGHTS, entry.b.get()},
                                  {DNNL_ARG_DST, entry.c.get()},
                                  {DNNL_ARG_SCRATCHPAD, nullptr}};
  int argument_count = 3;
  if (entry.scratchpad_bytes > 0) {
    entry.scratchpad.set_data_handle(scratchpad.raw());
    arguments[3].memory = entry.scratchpad.get();
    argument_count = 4;
  }
  const dnnl_status_t status =
      dnnl_primitive_execute(entry.primitive.get(), stream.get(), argument_count, arguments);
  SEQTRAIN_CHECK(status == dnnl_success, "oneDNN matmul execution failed ({}) for {}",
                 dnnl_status2str(status), describe(s));
}

void CpuBackend::set_gemm_precision(Precision precision) {
  if (precision == Precision::bf16) {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512bf16") && !__builtin_cpu_supports("amx-bf16"))
      throw ConfigError(fmt::format(
          "training.precision bf16 needs a CPU with avx512_bf16 or AMX for oneDNN's bf16 GEMMs; "
          "this one has {}: use fp32 here, or bf16 on --device cuda",
          cpu::cpu_vector_features()));
  }
  gemm_precision_ = precision;
}

void CpuBackend::gemm(bool transpose_a, bool transpose_b, std::int64_t m, std::int64_t n,
                      std::int64_t k, float alpha, const float* a, std::int64_t lda, const float* b,
                      std::int64_t ldb, float beta, float* c, std::int64_t ldc) {
  SEQTRAIN_CHECK(lda >= (transpose_a ? m : k) && ldb >= (transpose_b ? k : n) && ldc >= n,
                 "gemm leading dimensions lda {} ldb {} ldc {} too small for m {} n {} k {} "
                 "(transpose {} {})",
                 lda, ldb, ldc, m, n, k, transpose_a, transpose_b);
  onednn_->run({1, m, n, k, transpose_a, transpose_b, lda, ldb, ldc, 0, 0, 0, alpha, beta}, a, b,
               c);
}

void CpuBackend::matmul(const Tensor& a, const Tensor& b, Tensor& c, bool transpose_a,
                        bool transpose_b, float alpha, float beta) {
  const std::int64_t a_rows = a.dim(-2), a_cols = a.dim(-1);
  const std::int64_t b_rows = b.dim(-2), b_cols = b.dim(-1);
  const std::int64_t m = transpose_a ? a_cols : a_rows;
  const std::int64_t k = transpose_a ? a_rows : a_cols;
  const std::int64_t n = transpose_b ? b_rows : b_cols;
  const std::int64_t batch = a.rank() == 3 ? a.dim(0) : 1;
  SEQTRAIN_CHECK((transpose_b ? b_cols : b_rows) == k && c.numel() == batch * m * n &&
                     (b.rank() == 2 || b.dim(0) == batch),
                 "matmul shapes {} x {} -> {} (transpose {} {})", shape_string(a.shape()),
                 shape_string(b.shape()), shape_string(c.shape()), transpose_a, transpose_b);
  const void* a_data = a.data<float>();
  const void* b_data = b.data<float>();
  float* c_data = c.data<float>();
  // bf16 precision: the operands rounded into bf16 copies of the same layout.
  const bool bf16 = gemm_precision_ == Precision::bf16;
  if (bf16) {
    std::uint16_t* a_bf16 = bf16_buffer(onednn_->bf16_a, a.numel());
    std::uint16_t* b_bf16 = bf16_buffer(onednn_->bf16_b, b.numel());
    convert_to_bf16(a.data<float>(), a.numel(), a_bf16);
    convert_to_bf16(b.data<float>(), b.numel(), b_bf16);
    a_data = a_bf16;
    b_data = b_bf16;
  }
  if (batch > 1 && b.rank() == 2 && !transpose_a) {
    // A shared right operand under an untransposed left: the batch folds into
    // the rows of one [batch * m, k] x [k, n] GEMM, which oneDNN blocks better.
    onednn_->run(
        {1, batch * m, n, k, false, transpose_b, a_cols, b_cols, n, 0, 0, 0, alpha, beta, bf16},
        a_data, b_data, c_data);
    return;
  }
  onednn_->run({batch, m, n, k, transpose_a, transpose_b, a_cols, b_cols, n, a_rows * a_cols,
                b.rank() == 3 ? b_rows * b_cols : 0, m * n, alpha, beta, bf16},
               a_data, b_data, c_data);
}

}  // namespace seqtrain
