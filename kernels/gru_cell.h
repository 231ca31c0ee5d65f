// Host entry points of the fused GRU cell kernels (kernels/gru_cell.cu, whose
// header has the formulas, launch geometry and costs). One forward and one
// backward launch per time step; the GEMMs around them (input projection for all
// steps, recurrent h_{t-1} W_hh^T per step, dh += hidden_gate_grads[t] W_hh per
// step, weight gradients over all steps) belong to the caller.
//
// Storage is float or __nv_bfloat16 (h, outputs, saved activations, gate
// gradients; math in fp32). Biases and the running gradient dh are fp32.
// Layouts are those of include/seqtrain/backend.h: rows are batch entries,
// gates in PyTorch's order r, z, n, each H wide; workspace[t] = r, z, n, hn.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

namespace seqtrain::kernels {

// One forward step t. Row b is valid when t < lengths[b]; a padded row keeps its
// state, outputs y = 0 and saves zeros.
template <class Storage>
struct GruCellForwardArgs {
  std::int32_t batch = 0;                     // B
  std::int32_t hidden = 0;                    // H
  std::int32_t step = 0;                      // t
  const std::int32_t* lengths = nullptr;      // [B]
  const Storage* input_projection = nullptr;  // [B, 3H]: x_t W_ih^T, no bias
  // h_{t-1} W_hh^T, no bias: row b at recurrent + b * recurrent_stride. May be
  // the step's own workspace (stride 4H): the kernel overwrites it in place.
  const Storage* recurrent = nullptr;
  std::int64_t recurrent_stride = 0;
  const float* bias_ih = nullptr;  // [3H]
  const float* bias_hh = nullptr;  // [3H]
  Storage* h = nullptr;            // [B, H]: h_{t-1} in, h_t out
  Storage* y = nullptr;            // [B, H]: y[t]
  Storage* saved = nullptr;        // [B, 4H]: workspace[t] = r, z, n, hn
};

// One backward step t, processing steps in the reverse of the forward order.
// The GRU's gate gradients differ between the input side (W_ih, b_ih) and the
// hidden side (W_hh, b_hh) in the n gate only, so the kernel writes both:
//   gate_grads        = (da_r, da_z, da_n)       for dx, dW_ih, db_ih
//   hidden_gate_grads = (da_r, da_z, da_n * r)   for dh, dW_hh, db_hh
template <class Storage>
struct GruCellBackwardArgs {
  std::int32_t batch = 0;
  std::int32_t hidden = 0;
  std::int32_t step = 0;
  bool reverse = false;                   // the layer ran from each row's last step to step 0
  const std::int32_t* lengths = nullptr;  // [B]
  const Storage* saved = nullptr;         // [B, 4H]: workspace[t]
  // y of the step before t in forward order (t - 1, or t + 1 when reverse), which
  // is h_{t-1}; null when there is none.
  const Storage* previous_y = nullptr;
  const Storage* h0 = nullptr;  // [B, H] initial state, null: zeros
  const Storage* dy = nullptr;  // [B, H]: dy[t], null: zeros
  // [B, H] gradient reaching h_t from later steps. Valid rows leave the direct
  // path G * z in it, for the caller's dh += hidden_gate_grads[t] W_hh; padded
  // rows keep it.
  float* dh = nullptr;
  Storage* gate_grads = nullptr;         // [B, 3H]: gate_grads[t] (zeros for padded rows)
  Storage* hidden_gate_grads = nullptr;  // [B, 3H] (zeros for padded rows)
};

void gru_cell_forward(const GruCellForwardArgs<float>& args, cudaStream_t stream);
void gru_cell_forward(const GruCellForwardArgs<__nv_bfloat16>& args, cudaStream_t stream);
void gru_cell_backward(const GruCellBackwardArgs<float>& args, cudaStream_t stream);
void gru_cell_backward(const GruCellBackwardArgs<__nv_bfloat16>& args, cudaStream_t stream);

}  // namespace seqtrain::kernels
