// A Transformer encoder for the sequence tasks (model.type: transformer), so
// that the same task runs on both families and accuracy and time compare side
// by side with the recurrent models. Pre-LN encoder layers built from
// models/layers.h:
//   input     tokens: an embedding [V, H]; features (adding): a linear layer F -> H
//             plus a learned position embedding [max_positions, H] of step t
//   N layers  x = x + drop(attn(LN(x)));  x = x + drop(ffn(LN(x)))   (GELU FFN)
//             attention over the steps < the sequence's length (key padding)
//   final LN, then the task's head:
//   charlm          causal attention (step i sees steps j <= i); a linear
//                   decoder on every step -> next-token logits
//   adding          the state at each sequence's last step, a linear layer -> one number (MSE)
//   classification  the same state, a linear layer -> class logits
// No carried state: every batch stands alone (training.carry_state must be
// false, run_config_cross_key_checks.cc), and sampling re-encodes the last
// max_positions tokens of the prefix every step (sampling_window).
// Parameters: embedding.weight or input.{weight,bias}; position_embedding.weight;
// encoder.layer.N.attention.self.qkv.{weight,bias} (rows q, k, v),
// encoder.layer.N.attention.output.dense.*, encoder.layer.N.attention.LayerNorm.*,
// encoder.layer.N.intermediate.dense.*, encoder.layer.N.output.dense.*,
// encoder.layer.N.output.LayerNorm.*, encoder.final_layernorm.*, head.*.
// Initialisation as BERT's: normal(0, 0.02) weights and embeddings, zero
// biases, unit LayerNorm gains.
#pragma once

#include <string>

#include "models/sequence_model.h"

namespace seqtrain {

// Shared with the key/value-cache decoding step (transformer_decode_step.h),
// which reads the same parameters.
inline constexpr float kTransformerLayerNormEpsilon = 1e-5f;
std::string transformer_layer_prefix(int layer);  // "encoder.layer.N."

class TransformerSequenceModel final : public SequenceModel {
 public:
  // spec.heads must divide spec.hidden_size into a head dimension the attention
  // op has (32, 64 or 128); spec.max_positions bounds the steps of a graph.
  TransformerSequenceModel(const SequenceModelSpec& spec, ParameterStore& parameters,
                           std::uint64_t seed);

  ModelGraph build_graph(const GraphShape& shape) const override;
  // The batch's inputs and the position ids (step t at [t, b]).
  void bind_inputs(Executor& executor, const ModelInputs& inputs) const override;
  const SequenceModelSpec& spec() const override { return spec_; }
  // charlm: the position embeddings bound the prefix one step re-encodes.
  std::int64_t sampling_window() const override { return spec_.max_positions; }

 private:
  SequenceModelSpec spec_;
};

}  // namespace seqtrain
