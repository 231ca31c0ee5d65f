// Reshaping copies (s bytes per element; no arithmetic, all memory bound):
//
//   transpose01   out[j, i, :] = x[i, j, :]              x [A, B, C]: 2 A B C s bytes
//   concat_last   out[r, :] = [a[r, :] | b[r, :]]        2 R (Wa + Wb) s bytes
//   split_last    a[r, :], b[r, :] = the two parts of x[r, :]   the same
//   sequence_last out[b, :] = x[t_b, b, :], t_b = reverse ? 0 : lengths[b] - 1
//                                                        2 B H s + 4 B bytes
//   sequence_last_backward  dx[t, b, :] = t == t_b ? dout[b, :] : 0
//                                                        (T + 1) B H s + 4 B bytes
//
// Launch geometry (all five): 256 threads per block, one warp per row of
// contiguous elements (a row (i, j) of x for transpose01, a row r for
// concat/split, a batch row b for sequence_last, a row (t, b) of dx for its
// backward); warp w of block k takes row 8 k + w, and its lanes copy columns
// lane, lane + 32, ... Every row is read and written as whole 32-element
// spans, so both sides are coalesced, which a flat element-per-thread
// transpose would not be for the strided side. The row index is split into
// its coordinates once per warp, not per element. Grid ceil(rows / 8). Rows
// narrower than 32 leave lanes idle; the tensors these ops move (hidden states,
// T x B x H) have rows of at least a few dozen elements.
#include "kernels/device_api.h"
#include "kernels/launch.h"
#include "kernels/reshape.h"

namespace seqtrain::kernels {

constexpr int kReshapeThreads = 256;
constexpr int kReshapeRowsPerBlock = kReshapeThreads / 32;

namespace {

template <class Element>
__device__ __forceinline__ void copy_row(Element* target, const Element* source, std::int64_t width,
                                         unsigned lane) {
  for (std::int64_t j = lane; j < width; j += 32) target[j] = source[j];
}

template <class Element>
__device__ __forceinline__ void zero_row(Element* target, std::int64_t width, unsigned lane) {
  for (std::int64_t j = lane; j < width; j += 32) target[j] = Element(0.0f);
}

__device__ __forceinline__ std::int64_t warp_row() {
  return static_cast<std::int64_t>(blockIdx.x) * kReshapeRowsPerBlock + threadIdx.x / 32;
}

// The step whose row sequence_last takes, or -1 (recorded in the flag, if
// any) when the length is outside [1, steps].
__device__ __forceinline__ std::int64_t last_step(const std::int32_t* lengths, std::int64_t b,
                                                  std::int32_t steps, bool reverse,
                                                  unsigned long long* bad_length, bool report) {
  const std::int32_t length = lengths[b];
  if (length < 1 || length > steps) {
    if (report && bad_length != nullptr) atomicMax(bad_length, encode_bad_index(b, length));
    return -1;
  }
  return reverse ? 0 : length - 1;
}

}  // namespace

template <class Element>
__global__ void __launch_bounds__(kReshapeThreads)
    transpose01_kernel(const Transpose01Args<Element> args) {
  const std::int64_t row = warp_row();  // (i, j) of x
  if (row >= args.dim0 * args.dim1) return;
  const std::int64_t i = row / args.dim1, j = row % args.dim1;
  copy_row(args.out + (j * args.dim0 + i) * args.dim2, args.x + row * args.dim2, args.dim2,
           threadIdx.x % 32);
}

template <class Storage>
__global__ void __launch_bounds__(kReshapeThreads)
    concat_last_kernel(const ConcatLastArgs<Storage> args) {
  const std::int64_t row = warp_row();
  if (row >= args.rows) return;
  const unsigned lane = threadIdx.x % 32;
  const std::int64_t width = static_cast<std::int64_t>(args.width_a) + args.width_b;
  Storage* out = args.out + row * width;
  copy_row(out, args.a + row * args.width_a, args.width_a, lane);
  copy_row(out + args.width_a, args.b + row * args.width_b, args.width_b, lane);
}

template <class Storage>
__global__ void __launch_bounds__(kReshapeThreads)
    split_last_kernel(const SplitLastArgs<Storage> args) {
  const std::int64_t row = warp_row();
  if (row >= args.rows) return;
  const unsigned lane = threadIdx.x % 32;
  const std::int64_t width = static_cast<std::int64_t>(args.width_a) + args.width_b;
  const Storage* x = args.x + row * width;
  copy_row(args.a + row * args.width_a, x, args.width_a, lane);
  copy_row(args.b + row * args.width_b, x + args.width_a, args.width_b, lane);
}

template <class Storage>
__global__ void __launch_bounds__(kReshapeThreads)
    sequence_last_kernel(const SequenceLastArgs<Storage> args) {
  const std::int64_t b = warp_row();
  if (b >= args.batch) return;
  const unsigned lane = threadIdx.x % 32;
  const std::int64_t t =
      last_step(args.lengths, b, args.steps, args.reverse, args.bad_length, lane == 0);
  Storage* out = args.out + b * args.width;
  if (t < 0)
    zero_row(out, args.width, lane);
  else
    copy_row(out, args.x + (t * args.batch + b) * args.width, args.width, lane);
}

template <class Storage>
__global__ void __launch_bounds__(kReshapeThreads)
    sequence_last_backward_kernel(const SequenceLastBackwardArgs<Storage> args) {
  const std::int64_t row = warp_row();  // (t, b) of dx
  if (row >= static_cast<std::int64_t>(args.steps) * args.batch) return;
  const unsigned lane = threadIdx.x % 32;
  const std::int64_t t = row / args.batch, b = row % args.batch;
  // Each sequence's bad length is reported once, by the warp of its row at t = 0.
  const std::int64_t last =
      last_step(args.lengths, b, args.steps, args.reverse, args.bad_length, lane == 0 && t == 0);
  Storage* dx = args.dx + row * args.width;
  if (t == last)
    copy_row(dx, args.dout + b * args.width, args.width, lane);
  else
    zero_row(dx, args.width, lane);
}

namespace {

LaunchConfig row_geometry(std::int64_t rows, cudaStream_t stream) {
  return {dim3(static_cast<unsigned>((rows + kReshapeRowsPerBlock - 1) / kReshapeRowsPerBlock)),
          dim3(kReshapeThreads), 0, stream};
}

template <class Element>
void launch_transpose01(const Transpose01Args<Element>& args, cudaStream_t stream) {
  if (args.dim0 <= 0 || args.dim1 <= 0 || args.dim2 <= 0) return;
  SEQTRAIN_LAUNCH(row_geometry(args.dim0 * args.dim1, stream), transpose01_kernel<Element>, args);
}

template <class Storage>
void launch_concat_last(const ConcatLastArgs<Storage>& args, cudaStream_t stream) {
  if (args.rows <= 0 || args.width_a + args.width_b <= 0) return;
  SEQTRAIN_LAUNCH(row_geometry(args.rows, stream), concat_last_kernel<Storage>, args);
}

template <class Storage>
void launch_split_last(const SplitLastArgs<Storage>& args, cudaStream_t stream) {
  if (args.rows <= 0 || args.width_a + args.width_b <= 0) return;
  SEQTRAIN_LAUNCH(row_geometry(args.rows, stream), split_last_kernel<Storage>, args);
}

template <class Storage>
void launch_sequence_last(const SequenceLastArgs<Storage>& args, cudaStream_t stream) {
  if (args.batch <= 0 || args.width <= 0) return;
  SEQTRAIN_LAUNCH(row_geometry(args.batch, stream), sequence_last_kernel<Storage>, args);
}

template <class Storage>
void launch_sequence_last_backward(const SequenceLastBackwardArgs<Storage>& args,
                                   cudaStream_t stream) {
  if (args.steps <= 0 || args.batch <= 0 || args.width <= 0) return;
  SEQTRAIN_LAUNCH(row_geometry(static_cast<std::int64_t>(args.steps) * args.batch, stream),
                  sequence_last_backward_kernel<Storage>, args);
}

}  // namespace

void transpose01(const Transpose01Args<float>& args, cudaStream_t stream) {
  launch_transpose01(args, stream);
}
void transpose01(const Transpose01Args<__nv_bfloat16>& args, cudaStream_t stream) {
  launch_transpose01(args, stream);
}
void transpose01(const Transpose01Args<std::int32_t>& args, cudaStream_t stream) {
  launch_transpose01(args, stream);
}
void concat_last(const ConcatLastArgs<float>& args, cudaStream_t stream) {
  launch_concat_last(args, stream);
}
void concat_last(const ConcatLastArgs<__nv_bfloat16>& args, cudaStream_t stream) {
  launch_concat_last(args, stream);
}
void split_last(const SplitLastArgs<float>& args, cudaStream_t stream) {
  launch_split_last(args, stream);
}
void split_last(const SplitLastArgs<__nv_bfloat16>& args, cudaStream_t stream) {
  launch_split_last(args, stream);
}
void sequence_last(const SequenceLastArgs<float>& args, cudaStream_t stream) {
  launch_sequence_last(args, stream);
}
void sequence_last(const SequenceLastArgs<__nv_bfloat16>& args, cudaStream_t stream) {
  launch_sequence_last(args, stream);
}
void sequence_last_backward(const SequenceLastBackwardArgs<float>& args, cudaStream_t stream) {
  launch_sequence_last_backward(args, stream);
}
void sequence_last_backward(const SequenceLastBackwardArgs<__nv_bfloat16>& args,
                            cudaStream_t stream) {
  launch_sequence_last_backward(args, stream);
}

}  // namespace seqtrain::kernels
