// Host entry points of the reshaping kernels (kernels/reshape.cu, whose header
// has the launch geometry and costs), with the semantics of the Backend methods
// of the same names (include/seqtrain/backend.h):
//   transpose01             x [A, B, C] -> out [B, A, C]
//   concat_last             out [R, Wa + Wb] = [a [R, Wa] | b [R, Wb]]
//   split_last              the inverse: a, b from x [R, Wa + Wb]
//   sequence_last           x [T, B, H] -> out [B, H]: row b of step lengths[b] - 1,
//                           or of step 0 when reverse
//   sequence_last_backward  dx [T, B, H] = 0 except dx[t_b, b] = dout[b]
// Elements are float or __nv_bfloat16 (transpose01 also int32: it moves ids
// too); values are copied, not converted. Outputs must not overlap inputs.
// Nothing is allocated; empty shapes launch nothing.
//
// A length outside [1, T] addresses nothing: sequence_last writes a zero row
// for it, sequence_last_backward zeros all of dx's rows of that sequence, and
// both record (b, length) in the caller's flag (kernels/bad_index.h) when one is
// given; the caller raises the CPU backends' DataError ("sequence {} has length
// {}, outside [1, {}]").
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/bad_index.h"

namespace seqtrain::kernels {

template <class Element>
struct Transpose01Args {
  std::int64_t dim0 = 0;  // A
  std::int64_t dim1 = 0;  // B
  std::int64_t dim2 = 0;  // C
  const Element* x = nullptr;
  Element* out = nullptr;
};

template <class Storage>
struct ConcatLastArgs {
  std::int64_t rows = 0;
  std::int32_t width_a = 0;
  std::int32_t width_b = 0;
  const Storage* a = nullptr;  // [rows, width_a]
  const Storage* b = nullptr;  // [rows, width_b]
  Storage* out = nullptr;      // [rows, width_a + width_b]
};

template <class Storage>
struct SplitLastArgs {
  std::int64_t rows = 0;
  std::int32_t width_a = 0;
  std::int32_t width_b = 0;
  const Storage* x = nullptr;  // [rows, width_a + width_b]
  Storage* a = nullptr;        // [rows, width_a]
  Storage* b = nullptr;        // [rows, width_b]
};

template <class Storage>
struct SequenceLastArgs {
  std::int32_t steps = 0;  // T
  std::int32_t batch = 0;  // B
  std::int32_t width = 0;  // H
  bool reverse = false;
  const std::int32_t* lengths = nullptr;     // [B]
  const Storage* x = nullptr;                // [T, B, H]
  Storage* out = nullptr;                    // [B, H]
  unsigned long long* bad_length = nullptr;  // device flag, zero before; may be null
};

template <class Storage>
struct SequenceLastBackwardArgs {
  std::int32_t steps = 0;
  std::int32_t batch = 0;
  std::int32_t width = 0;
  bool reverse = false;
  const std::int32_t* lengths = nullptr;     // [B]
  const Storage* dout = nullptr;             // [B, H]
  Storage* dx = nullptr;                     // [T, B, H], overwritten
  unsigned long long* bad_length = nullptr;  // device flag, zero before; may be null
};

void transpose01(const Transpose01Args<float>& args, cudaStream_t stream);
void transpose01(const Transpose01Args<__nv_bfloat16>& args, cudaStream_t stream);
void transpose01(const Transpose01Args<std::int32_t>& args, cudaStream_t stream);
void concat_last(const ConcatLastArgs<float>& args, cudaStream_t stream);
void concat_last(const ConcatLastArgs<__nv_bfloat16>& args, cudaStream_t stream);
void split_last(const SplitLastArgs<float>& args, cudaStream_t stream);
void split_last(const SplitLastArgs<__nv_bfloat16>& args, cudaStream_t stream);
void sequence_last(const SequenceLastArgs<float>& args, cudaStream_t stream);
void sequence_last(const SequenceLastArgs<__nv_bfloat16>& args, cudaStream_t stream);
void sequence_last_backward(const SequenceLastBackwardArgs<float>& args, cudaStream_t stream);
void sequence_last_backward(const SequenceLastBackwardArgs<__nv_bfloat16>& args,
                            cudaStream_t stream);

}  // namespace seqtrain::kernels
