// Bias add, activations and their gradients, fp32 math on float or bf16 storage
// (s = 2 or 4 bytes per element), with the formulas every backend shares
// (include/seqtrain/activation_math.h, whose functions these kernels call):
//
//   sigmoid  y = 1 / (1 + e^-x)                       dy/dx = y (1 - y)
//   tanh     y = tanh x                               dy/dx = 1 - y^2
//   relu     y = max(x, 0)                            dy/dx = [x > 0]
//   gelu     y = x Phi(x) = x/2 (1 + erf(x / sqrt 2))  dy/dx = Phi(x) + x phi(x),
//            phi(x) = e^(-x^2/2) / sqrt(2 pi)          (the erf form BERT uses)
//   identity y = x                                    dy/dx = 1
//
// bias_activation_forward  out[r, c] = act(x[r, c] + bias[c]), x [R, C]: the
//   element-wise tail of a linear layer in one pass instead of two (a bias add
//   writing R C values that the activation reads back). Moves 2 R C s + 4 C
//   bytes; 1 add plus the activation per element (about 1 FLOP for relu, ~5
//   for sigmoid/tanh, ~20 for gelu's erf): memory bound on an A100 or H100.
//   Launch geometry: blocks of 32 x 8 threads; block (X, Y) covers columns
//   32 X .. 32 X + 31, thread (x, y) keeps its column's bias in a register and
//   walks rows 8 Y + y, stepping 8 gridDim.y. A warp reads 32 consecutive
//   columns of one row (one 128-byte line for fp32). Grid ceil(C / 32) x
//   min(ceil(R / 8), 256): at least 256 blocks of 256 threads once R >= 2048
//   (two per SM of an H100 per column tile), no index division per element.
// activation_forward  y[i] = act(x[i]): 2 n s bytes.
// activation_backward dx[i] = dy[i] act'(x[i], y[i]): 3 n s bytes (y or x, dy,
//   dx), ~2 FLOPs (gelu ~25).
//   Both: a 1-D grid-stride loop, 256 threads per block, min(ceil(n / 256),
//   1024) blocks, one element per thread per iteration (coalesced).
// No shared memory, no barriers anywhere.
#include <algorithm>

#include "kernels/bias_activation.h"
#include "kernels/device_api.h"
#include "kernels/launch.h"
#include "kernels/storage.h"
#include "seqtrain/activation_math.h"

namespace seqtrain::kernels {

constexpr int kBiasActivationColumns = 32;
constexpr int kBiasActivationRowLanes = 8;
constexpr int kBiasActivationThreads = kBiasActivationColumns * kBiasActivationRowLanes;
constexpr std::int64_t kBiasActivationMaxRowBlocks = 256;
constexpr int kActivationThreads = 256;
constexpr std::int64_t kActivationMaxBlocks = 1024;


template <class Storage>
__global__ void __launch_bounds__(kBiasActivationThreads)
    bias_activation_forward_kernel(const BiasActivationForwardArgs<Storage> args) {
  const std::int64_t column =
      static_cast<std::int64_t>(blockIdx.x) * kBiasActivationColumns + threadIdx.x;
  if (column >= args.columns) return;
  const float bias = args.bias != nullptr ? args.bias[column] : 0.0f;
  const std::int64_t row_stride = static_cast<std::int64_t>(gridDim.y) * kBiasActivationRowLanes;
  for (std::int64_t row =
           static_cast<std::int64_t>(blockIdx.y) * kBiasActivationRowLanes + threadIdx.y;
       row < args.rows; row += row_stride) {
    const std::int64_t index = row * args.columns + column;
    store_float(args.out + index,
                activation_value(args.activation, load_float(args.x + index) + bias));
  }
}

template <class Storage>
__global__ void __launch_bounds__(kActivationThreads)
    activation_forward_kernel(const ActivationForwardArgs<Storage> args) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
       i < args.count; i += stride)
    store_float(args.y + i, activation_value(args.activation, load_float(args.x + i)));
}

template <class Storage>
__global__ void __launch_bounds__(kActivationThreads)
    activation_backward_kernel(const ActivationBackwardArgs<Storage> args) {
  const bool uses_output = derivative_reads_output(args.activation);
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
       i < args.count; i += stride) {
    const float x = uses_output ? 0.0f : load_float(args.x + i);
    const float y = uses_output ? load_float(args.y + i) : 0.0f;
    store_float(args.dx + i,
                load_float(args.dy + i) * activation_derivative(args.activation, x, y));
  }
}

namespace {

LaunchConfig one_dimensional_geometry(std::int64_t count, cudaStream_t stream) {
  const std::int64_t blocks =
      std::min((count + kActivationThreads - 1) / kActivationThreads, kActivationMaxBlocks);
  return {dim3(static_cast<unsigned>(blocks)), dim3(kActivationThreads), 0, stream};
}

template <class Storage>
void launch_bias_activation_forward(const BiasActivationForwardArgs<Storage>& args,
                                    cudaStream_t stream) {
  if (args.rows <= 0 || args.columns <= 0) return;
  const auto column_blocks =
      static_cast<unsigned>((args.columns + kBiasActivationColumns - 1) / kBiasActivationColumns);
  const auto row_blocks = static_cast<unsigned>(
      std::min((args.rows + kBiasActivationRowLanes - 1) / kBiasActivationRowLanes,
               kBiasActivationMaxRowBlocks));
  const LaunchConfig config{dim3(column_blocks, row_blocks),
                            dim3(kBiasActivationColumns, kBiasActivationRowLanes), 0, stream};
  SEQTRAIN_LAUNCH(config, bias_activation_forward_kernel<Storage>, args);
}

template <class Storage>
void launch_activation_forward(const ActivationForwardArgs<Storage>& args, cudaStream_t stream) {
  if (args.count <= 0) return;
  SEQTRAIN_LAUNCH(one_dimensional_geometry(args.count, stream), activation_forward_kernel<Storage>,
                  args);
}

template <class Storage>
void launch_activation_backward(const ActivationBackwardArgs<Storage>& args, cudaStream_t stream) {
  if (args.count <= 0) return;
  SEQTRAIN_LAUNCH(one_dimensional_geometry(args.count, stream), activation_backward_kernel<Storage>,
                  args);
}

}  // namespace

void bias_activation_forward(const BiasActivationForwardArgs<float>& args, cudaStream_t stream) {
  launch_bias_activation_forward(args, stream);
}
void bias_activation_forward(const BiasActivationForwardArgs<__nv_bfloat16>& args,
                             cudaStream_t stream) {
  launch_bias_activation_forward(args, stream);
}
void activation_forward(const ActivationForwardArgs<float>& args, cudaStream_t stream) {
  launch_activation_forward(args, stream);
}
void activation_forward(const ActivationForwardArgs<__nv_bfloat16>& args, cudaStream_t stream) {
  launch_activation_forward(args, stream);
}
void activation_backward(const ActivationBackwardArgs<float>& args, cudaStream_t stream) {
  launch_activation_backward(args, stream);
}
void activation_backward(const ActivationBackwardArgs<__nv_bfloat16>& args, cudaStream_t stream) {
  launch_activation_backward(args, stream);
}

}  // namespace seqtrain::kernels
