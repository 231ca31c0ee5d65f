// BERT for masked-LM pretraining (Devlin et al. 2019), as Hugging Face's
// BertForMaskedLM computes it:
//   embeddings  word[input_ids] + position[t] + token_type[token_type_ids],
//               LayerNorm, dropout
//   N layers    post-LN (BERT): x = LN(x + drop(attn(x))); x = LN(x + drop(ffn(x)))
//               pre-LN (option): x = x + drop(attn(LN(x))); x = x + drop(ffn(LN(x))),
//               with a final LayerNorm after the last layer
//               attn: one fused QKV GEMM -> attention op (key padding mask from
//               the batch's lengths, dropout on the probabilities) -> output dense
//               ffn: dense (intermediate) -> GELU (erf) -> dense (hidden)
//   MLM head    only on the masked positions (gathered from the batch's
//               masked_positions): dense -> GELU -> LayerNorm -> decoder tied to
//               the word embeddings + output bias -> logits [B * P, V];
//               loss = mean cross-entropy over used slots (labels != -100)
//
// Parameters use Hugging Face's names, except that each layer's Q, K and V
// projections are one fused parameter, split on export:
//   bert.embeddings.{word,position,token_type}_embeddings.weight
//   bert.embeddings.LayerNorm.{weight,bias}
//   bert.encoder.layer.N.attention.self.qkv.{weight [3*hidden, hidden], bias [3*hidden]}
//       (rows: query, then key, then value, each HF's [hidden, hidden] matrix)
//   bert.encoder.layer.N.attention.output.dense.{weight,bias}
//   bert.encoder.layer.N.attention.output.LayerNorm.{weight,bias}
//   bert.encoder.layer.N.intermediate.dense.{weight,bias}
//   bert.encoder.layer.N.output.dense.{weight,bias}
//   bert.encoder.layer.N.output.LayerNorm.{weight,bias}
//   bert.encoder.final_layernorm.{weight,bias}          (pre-LN only; not in HF)
//   cls.predictions.transform.dense.{weight,bias}
//   cls.predictions.transform.LayerNorm.{weight,bias}
//   cls.predictions.bias                                 (the decoder's bias)
// Weight decay applies to every weight matrix and embedding, never to biases or
// LayerNorm parameters. Initialisation as HF: normal(0, initializer_range) for
// weights and embeddings, zeros for biases, ones/zeros for LayerNorm.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "models/model.h"

namespace seqtrain {

struct BertSpec {
  int vocabulary_size = 0;
  int hidden_size = 128;
  int layers = 2;
  int heads = 2;  // hidden_size / heads is the head dimension
  int intermediate_size = 512;
  int max_positions = 512;
  int type_vocabulary_size = 2;
  float hidden_dropout = 0.1f;     // embeddings, attention output, FFN output
  float attention_dropout = 0.1f;  // on the attention probabilities
  float layer_norm_epsilon = 1e-12f;
  float initializer_range = 0.02f;
  bool pre_layernorm = false;

  bool operator==(const BertSpec&) const = default;
};

// Its graphs (Model::build_graph) take shape.batch rows of shape.length
// tokens with shape.masked_per_sequence decoder slots per row (no carried
// state; always with targets): inputs input_ids, token_type_ids, lengths,
// masked_positions and masked_labels (model_io, laid out as data/mlm_batch.h
// says; the model fills position_ids itself); output the logits [B * P, V]
// at the masked slots (unused slots: row b's [CLS]).
class BertModel final : public Model {
 public:
  // Adds and initialises the parameters (names above) from the run's seed.
  // Throws ConfigError when hidden_size is not a multiple of heads or the head
  // dimension is not one the attention op supports.
  BertModel(const BertSpec& spec, ParameterStore& parameters, std::uint64_t seed);

  ModelGraph build_graph(const GraphShape& shape) const override;
  // Every input in the graph's shape, and the position ids.
  void bind_inputs(Executor& executor, const ModelInputs& inputs) const override;

  const BertSpec& spec() const { return spec_; }

 private:
  BertSpec spec_;
};

}  // namespace seqtrain
