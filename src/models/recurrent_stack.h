// A stack of recurrent layers (LSTM, GRU or tanh RNN; one or two directions),
// as models put it in their graphs: PyTorch's nn.LSTM / nn.GRU / nn.RNN with
// its parameter names, gate order, initialisation, inter-layer dropout and
// packed-sequence lengths, so checkpoints load in either direction.
//
// Layer k reads the previous layer's output ([T, B, H * directions], the input
// for k = 0), and each direction is one OpKind::rnn node. A bidirectional
// layer's output is concat_last(forward, reverse).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "seqtrain/graph.h"
#include "seqtrain/parameters.h"
#include "seqtrain/rng.h"

namespace seqtrain {

struct RecurrentStackSpec {
  RnnCell cell = RnnCell::lstm;
  int input_size = 0;
  int hidden_size = 0;
  int layers = 1;
  bool bidirectional = false;
  // Dropout on every layer's output except the last (PyTorch's `dropout`);
  // the identity when not training.
  float dropout = 0.0f;
};

// A ConfigError naming the field when the spec cannot describe a stack.
void check_recurrent_stack_spec(const RecurrentStackSpec& spec);

int recurrent_directions(const RecurrentStackSpec& spec);  // 1 or 2

// PyTorch's parameter name: prefix + "weight_ih_l0", "bias_hh_l1_reverse", ...
// kind is one of weight_ih, weight_hh, bias_ih, bias_hh.
std::string recurrent_parameter_name(const std::string& prefix, const std::string& kind, int layer,
                                     bool reverse);

// Adds the stack's parameters to the store in PyTorch's order (per layer, per
// direction: weight_ih [G*H, in], weight_hh [G*H, H], bias_ih [G*H], bias_hh
// [G*H]), each drawn uniform(-1/sqrt(H), 1/sqrt(H)) from rng in that order, as
// nn.RNNBase.reset_parameters does. Weights take weight decay, biases do not.
void add_recurrent_stack_parameters(ParameterStore& store, const RecurrentStackSpec& spec,
                                    const std::string& prefix, Rng& rng);

// One [B, H] value per (layer, direction), at index layer * directions +
// direction: the order of PyTorch's h_0 / h_n. c is for LSTM only (empty
// otherwise).
struct RecurrentState {
  std::vector<ValueId> h;
  std::vector<ValueId> c;
};

// Graph inputs for an initial state that the caller sets before each run
// (truncated BPTT carries h_n / c_n of one window into the next):
// prefix + "h0_l{k}[_reverse]" and, for LSTM, prefix + "c0_l{k}[_reverse]".
RecurrentState add_recurrent_state_inputs(Graph& graph, const RecurrentStackSpec& spec,
                                          const std::string& prefix, std::int64_t batch);

struct RecurrentStackOutput {
  ValueId output;              // [T, B, H * directions], zero past each length
  RecurrentState final_state;  // h_n (and c_n): the state after each row's last step
};

// Dropout nodes draw from streams first_dropout_stream + k for the output of
// layer k; recurrent_dropout_streams says how many a stack uses, so a model
// can keep every dropout node's stream distinct.
int recurrent_dropout_streams(const RecurrentStackSpec& spec);

// Appends the stack to graph. x [T, B, input_size] f32, lengths [B] int32
// (1 <= length <= T). initial_state: nullptr for zero states, or values of
// [B, H] laid out as RecurrentState says. Parameters are referred to by their
// names (add_recurrent_stack_parameters). Values the caller reads after a run
// (the final state, for instance) must be marked with graph.mark_output.
RecurrentStackOutput add_recurrent_stack(Graph& graph, const RecurrentStackSpec& spec,
                                         const std::string& prefix, ValueId x, ValueId lengths,
                                         const RecurrentState* initial_state,
                                         std::uint64_t first_dropout_stream);

}  // namespace seqtrain
