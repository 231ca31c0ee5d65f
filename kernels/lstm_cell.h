// Host entry points of the fused LSTM cell kernels (kernels/lstm_cell.cu, whose
// header has the formulas and launch geometry). One forward and one backward
// launch per time step; the GEMMs around them (input projection for all steps,
// recurrent h_{t-1} W_hh^T per step, dh += gate_grads[t] W_hh per step, weight
// gradients over all steps) belong to the caller.
//
// Storage is float or __nv_bfloat16 (activations, saved gates, gate gradients;
// math in fp32). The cell state c, the biases and the running gradients dh, dc
// are always fp32. Layouts are those of include/seqtrain/backend.h: rows are
// batch entries, gates in PyTorch's order i, f, g, o, each H wide.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

namespace seqtrain::kernels {

// One forward step t. Row b is valid when t < lengths[b]; a padded row keeps its
// state, outputs y = 0 and saves zeros.
template <class Storage>
struct LstmCellForwardArgs {
  std::int32_t batch = 0;                     // B
  std::int32_t hidden = 0;                    // H
  std::int32_t step = 0;                      // t
  const std::int32_t* lengths = nullptr;      // [B]
  const Storage* input_projection = nullptr;  // [B, 4H]: x_t W_ih^T, no bias
  // h_{t-1} W_hh^T, no bias: row b at recurrent + b * recurrent_stride. May be
  // the step's own workspace (stride 5H): the kernel overwrites it in place.
  const Storage* recurrent = nullptr;
  std::int64_t recurrent_stride = 0;
  const float* bias_ih = nullptr;  // [4H]
  const float* bias_hh = nullptr;  // [4H]
  Storage* h = nullptr;            // [B, H]: h_{t-1} in, h_t out
  float* c = nullptr;              // [B, H]: c_{t-1} in, c_t out
  Storage* y = nullptr;            // [B, H]: y[t]
  Storage* saved = nullptr;        // [B, 5H]: workspace[t] = i, f, g, o, c_t
};

// One backward step t, processing steps in the reverse of the forward order.
template <class Storage>
struct LstmCellBackwardArgs {
  std::int32_t batch = 0;
  std::int32_t hidden = 0;
  std::int32_t step = 0;
  bool reverse = false;                   // the layer ran from each row's last step to step 0
  const std::int32_t* lengths = nullptr;  // [B]
  const Storage* saved = nullptr;         // [B, 5H]: workspace[t]
  // workspace of the step before t in forward order (t - 1, or t + 1 when
  // reverse); null when there is none. Its c slot is c_{t-1}.
  const Storage* previous_saved = nullptr;
  const float* c0 = nullptr;    // [B, H] initial cell state, null: zeros
  const Storage* dy = nullptr;  // [B, H]: dy[t], null: zeros
  // [B, H] gradient reaching h_t from later steps. Valid rows leave it zero, for
  // the caller's dh += gate_grads[t] W_hh; padded rows keep it.
  float* dh = nullptr;
  float* dc = nullptr;            // [B, H]: dc_t in, dc_{t-1} out
  Storage* gate_grads = nullptr;  // [B, 4H]: gate_grads[t] (zeros for padded rows)
};

void lstm_cell_forward(const LstmCellForwardArgs<float>& args, cudaStream_t stream);
void lstm_cell_forward(const LstmCellForwardArgs<__nv_bfloat16>& args, cudaStream_t stream);
void lstm_cell_backward(const LstmCellBackwardArgs<float>& args, cudaStream_t stream);
void lstm_cell_backward(const LstmCellBackwardArgs<__nv_bfloat16>& args, cudaStream_t stream);

}  // namespace seqtrain::kernels
