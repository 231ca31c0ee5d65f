// The op vocabulary that the graph, the backends, the kernels and the config
// all speak: one enum per concept, each with its names (in enum order) for
// configs, messages and printed graphs. Plain enums and constexpr tables, so
// CUDA kernels include this header as well.
#pragma once

#include <cstdint>

namespace seqtrain {

// Pointwise activations; identity is a bias add alone (the fused bias +
// activation kernel). Their math: seqtrain/activation_math.h.
enum class Activation : std::uint8_t { sigmoid, tanh, relu, gelu, silu, identity };
inline constexpr const char* kActivationNames[] = {"sigmoid", "tanh", "relu",
                                                   "gelu",    "silu", "identity"};
constexpr const char* activation_name(Activation activation) {
  return kActivationNames[static_cast<int>(activation)];
}

// The recurrent cells, with PyTorch's gate order in the weight rows:
// lstm:     i, f, g, o                                              (4 gates)
// gru:      r, z, n                                                 (3 gates)
// rnn_tanh: h' = tanh(W_ih x + b_ih + W_hh h + b_hh)               (1 gate)
// Named as the config's model.cell: "lstm", "gru", "rnn".
enum class RnnCell : std::uint8_t { lstm, gru, rnn_tanh };
inline constexpr const char* kRnnCellNames[] = {"lstm", "gru", "rnn"};
constexpr const char* rnn_cell_name(RnnCell cell) { return kRnnCellNames[static_cast<int>(cell)]; }
constexpr int rnn_gate_count(RnnCell cell) {
  constexpr int gates[] = {4, 3, 1};
  return gates[static_cast<int>(cell)];
}
// Floats of saved activations per (time step, batch row) / hidden size:
// lstm i, f, g, o and c; gru r, z, n and W_hn h + b_hn; rnn_tanh nothing.
constexpr int rnn_workspace_width(RnnCell cell) {
  constexpr int widths[] = {5, 4, 0};
  return widths[static_cast<int>(cell)];
}

// Whose code runs a recurrent layer on the cuda backend: seqtrain's fused cell
// kernels (every backend), or cuDNN's RNN API (cuda only: for comparing the two
// on a GPU; it keeps its own saved state, so the layer's workspace is empty).
// Named as the config's model.impl.
enum class RnnImpl : std::uint8_t { fused, cudnn };
inline constexpr const char* kRnnImplNames[] = {"fused", "cudnn"};
constexpr const char* rnn_impl_name(RnnImpl impl) { return kRnnImplNames[static_cast<int>(impl)]; }

// The precision of GEMM inputs (training.precision): fp32, or bf16 with
// fp32 accumulation and output (mixed precision; weights, optimizer state,
// losses and every other op stay fp32).
enum class Precision : std::uint8_t { fp32, bf16 };
inline constexpr const char* kPrecisionNames[] = {"fp32", "bf16"};
constexpr const char* precision_name(Precision precision) {
  return kPrecisionNames[static_cast<int>(precision)];
}

// The target id a loss skips (cross_entropy's default ignore_index): padded
// positions, unused masked-LM slots. The value PyTorch's cross_entropy ignores.
inline constexpr std::int32_t kIgnoreTarget = -100;

}  // namespace seqtrain
