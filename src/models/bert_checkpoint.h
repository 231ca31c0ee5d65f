// BERT weights in Hugging Face's BertForMaskedLM format: the tensors of a
// model.safetensors that `BertForMaskedLM.from_pretrained(dir)` loads, and the
// config.json beside it. seqtrain's fused QKV parameter is split into
// attention.self.{query,key,value} on export and joined on import; the tied
// decoder weight is the word embedding table.
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "models/bert.h"
#include "seqtrain/parameters.h"
#include "seqtrain/tensor.h"

namespace seqtrain {

// Host tensors by Hugging Face name, from the model's parameters. Pre-LN
// models have no Hugging Face counterpart: a ConfigError says so.
std::map<std::string, Tensor> bert_to_hf_tensors(const BertSpec& spec,
                                                 const ParameterStore& parameters);
// Sets the model's parameters from tensors by Hugging Face name. A missing
// tensor or a shape that differs from the spec is a CheckpointError naming it;
// tensors the model does not use (pooler, NSP head) are ignored.
void bert_from_hf_tensors(const BertSpec& spec, const std::map<std::string, Tensor>& tensors,
                          ParameterStore& parameters);

// config.json of BertForMaskedLM for the spec, and back. Reading checks
// model_type "bert", hidden_act "gelu" and position_embedding_type "absolute".
std::string bert_hf_config_json(const BertSpec& spec);
BertSpec bert_spec_from_hf_config(const std::filesystem::path& config_json);

}  // namespace seqtrain
