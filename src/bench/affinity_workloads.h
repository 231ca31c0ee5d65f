// What `seqtrain bench affinity` times: one training step (forward and
// backward through the graph executor) of a sequence layer, built from the
// layers the models use (models/layers.h, models/recurrent_stack.h):
//   lstm_layer         one LSTM layer, input and hidden width H (the
//                      recurrent stack of one layer: one rnn op, whose input
//                      projection is one GEMM over all steps and whose T
//                      recurrent steps run one after another). It is also
//                      the bare recurrent op: the stack adds nothing around it.
//   transformer_layer  one pre-LN Transformer encoder layer of width H:
//                      x + attn(LN(x)), then + ffn(LN(.)); fused QKV
//                      projection, the attention op (bidirectional), output
//                      projection, a GELU feed-forward of width 4H
//   attention_op       the bare attention op on a fused QKV tensor
// Each graph takes its input as a parameter (so every input gradient is
// computed, as inside a deeper model) and ends in a mean squared error
// against zero targets. Values do not affect the time; they are drawn
// uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)), LayerNorm gains 1.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "seqtrain/executor.h"
#include "seqtrain/graph.h"
#include "seqtrain/parameters.h"

namespace seqtrain {

enum class AffinityWorkload { lstm_layer, transformer_layer, attention_op };
inline constexpr AffinityWorkload kAffinityWorkloads[] = {AffinityWorkload::lstm_layer,
                                                          AffinityWorkload::transformer_layer,
                                                          AffinityWorkload::attention_op};
const char* affinity_workload_name(AffinityWorkload workload);

struct AffinityShape {
  std::int64_t batch = 0, length = 0, hidden = 0;
};

// The attention heads of width H: H / 64 where 64 divides H, else H / 32
// (the attention op's head dimensions are 32, 64 and 128). A ConfigError
// naming --hidden unless H is a positive multiple of 32.
std::int64_t affinity_heads(std::int64_t hidden);

// FLOPs of one training step, counted analytically: 2 per multiply-add of
// the GEMM-like work (matrix products and attention's QK^T and PV);
// element-wise work (gates, softmax, layernorm, GELU, the loss) is not
// counted. With N = B T tokens:
//   lstm_layer         6 N (4H) (H + H) = 48 N H^2: per weight and token 2
//                      forward (input and recurrent projections) and 4
//                      backward (input/hidden gradients and weight gradients)
//   transformer_layer  72 N H^2 (weights 3H^2 + H^2 + 4H^2 + 4H^2 = 12 H^2,
//                      2 forward + 4 backward per weight and token) plus the
//                      attention op's
//   attention_op       14 B T^2 H: forward QK^T and PV (4 B T^2 H); backward
//                      recomputes QK^T and forms dV, dP, dQ, dK (10 B T^2 H),
//                      as Backend::attention_backward does (FlashAttention-2)
double affinity_step_flop(AffinityWorkload workload, const AffinityShape& shape);

// The workload's graph (forward and loss; the executor appends backward).
// Inputs: "lengths" [B] (every row T steps) and "targets" (zeros), which
// fill_affinity_inputs sets.
Graph build_affinity_graph(AffinityWorkload workload, const AffinityShape& shape);
// Adds the parameters graph refers to, with the values described above.
void add_affinity_parameters(const Graph& graph, ParameterStore& store, std::uint64_t seed);
void fill_affinity_inputs(Executor& executor, const AffinityShape& shape);

// The longest chain of dependent steps in a graph (forward and backward, as
// the executor holds it): each node counts 1, except a recurrent layer (rnn,
// rnn_backward), which counts its T time steps, since each needs the one
// before. T recurrent steps for the LSTM, a constant depth for attention.
std::int64_t critical_path_steps(const Graph& graph);

}  // namespace seqtrain
