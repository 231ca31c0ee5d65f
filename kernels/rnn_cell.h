// Host entry points of the fused tanh-RNN cell kernels (kernels/rnn_cell.cu,
// whose header has the formulas, launch geometry and costs). One forward and one
// backward launch per time step; the GEMMs around them (input projection for all
// steps, recurrent h_{t-1} W_hh^T per step, dh += gate_grads[t] W_hh per step,
// weight gradients over all steps) belong to the caller.
//
// Storage is float or __nv_bfloat16 (h, outputs, gate gradients; math in fp32).
// Biases and the running gradient dh are fp32. Layouts are those of
// include/seqtrain/backend.h: rows are batch entries; the cell saves nothing
// beyond its outputs (workspace width 0).
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

namespace seqtrain::kernels {

// One forward step t. Row b is valid when t < lengths[b]; a padded row keeps its
// state and outputs y = 0.
template <class Storage>
struct RnnCellForwardArgs {
  std::int32_t batch = 0;                     // B
  std::int32_t hidden = 0;                    // H
  std::int32_t step = 0;                      // t
  const std::int32_t* lengths = nullptr;      // [B]
  const Storage* input_projection = nullptr;  // [B, H]: x_t W_ih^T, no bias
  // h_{t-1} W_hh^T, no bias: row b at recurrent + b * recurrent_stride. May be
  // y itself (stride H): the kernel overwrites it in place, so the recurrent
  // GEMM needs no scratch.
  const Storage* recurrent = nullptr;
  std::int64_t recurrent_stride = 0;
  const float* bias_ih = nullptr;  // [H]
  const float* bias_hh = nullptr;  // [H]
  Storage* h = nullptr;            // [B, H]: h_{t-1} in, h_t out
  Storage* y = nullptr;            // [B, H]: y[t]
};

// One backward step t, processing steps in the reverse of the forward order.
// Needs only the step's own output: da = G * (1 - h_t^2).
template <class Storage>
struct RnnCellBackwardArgs {
  std::int32_t batch = 0;
  std::int32_t hidden = 0;
  std::int32_t step = 0;
  const std::int32_t* lengths = nullptr;  // [B]
  const Storage* y = nullptr;             // [B, H]: y[t] = h_t
  const Storage* dy = nullptr;            // [B, H]: dy[t], null: zeros
  // [B, H] gradient reaching h_t from later steps. Valid rows leave it zero, for
  // the caller's dh += gate_grads[t] W_hh; padded rows keep it.
  float* dh = nullptr;
  Storage* gate_grads = nullptr;  // [B, H]: gate_grads[t] (zeros for padded rows)
};

void rnn_cell_forward(const RnnCellForwardArgs<float>& args, cudaStream_t stream);
void rnn_cell_forward(const RnnCellForwardArgs<__nv_bfloat16>& args, cudaStream_t stream);
void rnn_cell_backward(const RnnCellBackwardArgs<float>& args, cudaStream_t stream);
void rnn_cell_backward(const RnnCellBackwardArgs<__nv_bfloat16>& args, cudaStream_t stream);

}  // namespace seqtrain::kernels
