// Gathers, scatters and layout changes on the cpu backend: embedding lookup
// and its gradient, transpose01, concat/split along the last axis, and the
// last valid step of each sequence. All are copies of whole rows, split over
// the pool by rows; ids and lengths are validated first, on the calling
// thread, so errors name the first bad entry exactly as serial does.
#include <cstring>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/parallel.h"

namespace seqtrain {
namespace {

std::int64_t rows_of(const Tensor& x) {
  return x.numel() / x.dim(-1);
}

void check_ids(const Tensor& ids, std::int64_t vocabulary) {
  const std::int32_t* id_data = ids.data<std::int32_t>();
  for (std::int64_t i = 0; i < ids.numel(); ++i)
    if (id_data[i] < 0 || id_data[i] >= vocabulary)
      throw DataError(fmt::format("token id {} at position {} is outside the vocabulary of {}",
                                  id_data[i], i, vocabulary));
}

// The time step of row b that sequence_last reads: lengths[b] - 1, or 0 when
// reverse.
std::int64_t last_step(const std::int32_t* lengths, std::int64_t row, std::int64_t steps,
                       bool reverse) {
  const std::int32_t length = lengths[row];
  if (length < 1 || length > steps)
    throw DataError(fmt::format("sequence {} has length {}, outside [1, {}]", row, length, steps));
  return reverse ? 0 : length - 1;
}

}  // namespace

void CpuBackend::embedding_forward(const Tensor& table, const Tensor& ids, Tensor& out) {
  const std::int64_t width = table.dim(1);
  check_ids(ids, table.dim(0));
  const std::int32_t* id_data = ids.data<std::int32_t>();
  const float* table_data = table.data<float>();
  float* out_data = out.data<float>();
  cpu::parallel_for(threads_, ids.numel(), cpu::row_grain(width),
                    [&](std::int64_t begin, std::int64_t end) {
                      for (std::int64_t i = begin; i < end; ++i)
                        std::memcpy(out_data + i * width, table_data + id_data[i] * width,
                                    static_cast<std::size_t>(width) * sizeof(float));
                    });
}

// dtable[id] = sum of dout rows with that id. Threads split the columns, not
// the ids: every element is summed by one thread in position order, so the
// result equals serial's bit for bit at any thread count, with no atomics.
void CpuBackend::embedding_backward(const Tensor& ids, const Tensor& dout, Tensor& dtable) {
  const std::int64_t width = dtable.dim(1);
  check_ids(ids, dtable.dim(0));
  fill_zero(dtable);
  const std::int32_t* id_data = ids.data<std::int32_t>();
  const std::int64_t count = ids.numel();
  const float* dout_data = dout.data<float>();
  float* table_data = dtable.data<float>();
  cpu::parallel_for(
      threads_, width,
      std::max<std::int64_t>(16, cpu::kElementGrain / std::max<std::int64_t>(count, 1)),
      [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t i = 0; i < count; ++i) {
          float* target = table_data + id_data[i] * width;
          const float* source = dout_data + i * width;
          for (std::int64_t j = begin; j < end; ++j) target[j] += source[j];
        }
      },
      16);
}

// [A, B, C] -> [B, A, C], any dtype: one row of C elements per (a, b).
void CpuBackend::transpose01(const Tensor& x, Tensor& out) {
  const std::int64_t d0 = x.dim(0), d1 = x.dim(1), d2 = x.dim(2);
  const std::size_t row_bytes = static_cast<std::size_t>(d2) * dtype_size(x.dtype());
  const auto* in = static_cast<const std::byte*>(x.raw());
  auto* result = static_cast<std::byte*>(out.raw());
  cpu::parallel_for(threads_, d0 * d1, cpu::row_grain(d2), [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t index = begin; index < end; ++index) {
      const std::int64_t i = index / d1, j = index % d1;
      std::memcpy(result + (j * d0 + i) * row_bytes, in + index * row_bytes, row_bytes);
    }
  });
}

void CpuBackend::concat_last(const Tensor& a, const Tensor& b, Tensor& out) {
  const std::int64_t wa = a.dim(-1), wb = b.dim(-1);
  const float* a_data = a.data<float>();
  const float* b_data = b.data<float>();
  float* out_data = out.data<float>();
  cpu::parallel_for(
      threads_, rows_of(a), cpu::row_grain(wa + wb), [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t r = begin; r < end; ++r) {
          float* row = out_data + r * (wa + wb);
          std::memcpy(row, a_data + r * wa, static_cast<std::size_t>(wa) * sizeof(float));
          std::memcpy(row + wa, b_data + r * wb, static_cast<std::size_t>(wb) * sizeof(float));
        }
      });
}

void CpuBackend::split_last(const Tensor& x, Tensor& a, Tensor& b) {
  const std::int64_t wa = a.dim(-1), wb = b.dim(-1);
  const float* x_data = x.data<float>();
  float* a_data = a.data<float>();
  float* b_data = b.data<float>();
  cpu::parallel_for(
      threads_, rows_of(x), cpu::row_grain(wa + wb), [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t r = begin; r < end; ++r) {
          const float* row = x_data + r * (wa + wb);
          std::memcpy(a_data + r * wa, row, static_cast<std::size_t>(wa) * sizeof(float));
          std::memcpy(b_data + r * wb, row + wa, static_cast<std::size_t>(wb) * sizeof(float));
        }
      });
}

// A batch of rows, one copy each: too little work to wake the pool.
void CpuBackend::sequence_last(const Tensor& x, const Tensor& lengths, bool reverse, Tensor& out) {
  const std::int64_t steps = x.dim(0), batch = x.dim(1), width = x.dim(2);
  const std::int32_t* length_data = lengths.data<std::int32_t>();
  const float* x_data = x.data<float>();
  float* out_data = out.data<float>();
  for (std::int64_t b = 0; b < batch; ++b) {
    const std::int64_t t = last_step(length_data, b, steps, reverse);
    std::memcpy(out_data + b * width, x_data + (t * batch + b) * width,
                static_cast<std::size_t>(width) * sizeof(float));
  }
}

void CpuBackend::sequence_last_backward(const Tensor& dout, const Tensor& lengths, bool reverse,
                                        Tensor& dx) {
  const std::int64_t steps = dx.dim(0), batch = dx.dim(1), width = dx.dim(2);
  const std::int32_t* length_data = lengths.data<std::int32_t>();
  for (std::int64_t b = 0; b < batch; ++b) last_step(length_data, b, steps, reverse);
  fill_zero(dx);
  const float* dout_data = dout.data<float>();
  float* dx_data = dx.data<float>();
  for (std::int64_t b = 0; b < batch; ++b) {
    const std::int64_t t = last_step(length_data, b, steps, reverse);
    std::memcpy(dx_data + (t * batch + b) * width, dout_data + b * width,
                static_cast<std::size_t>(width) * sizeof(float));
  }
}

}  // namespace seqtrain
