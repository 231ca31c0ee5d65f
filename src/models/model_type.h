// The model families (the config's model.type), chosen apart from the task:
// a task takes any model that yields its head. Today the recurrent stacks
// serve charlm, adding and classification, the Transformer encoder adding and
// classification, and BERT serves mlm.
#pragma once

#include <optional>

#include "seqtrain/op_types.h"

namespace seqtrain {

enum class ModelType { lstm, gru, rnn, bert, transformer };
inline constexpr const char* kModelTypeNames[] = {"lstm", "gru", "rnn", "bert", "transformer"};
constexpr const char* model_type_name(ModelType type) {
  return kModelTypeNames[static_cast<int>(type)];
}

// The recurrent cell of a recurrent model type, or nothing (bert).
constexpr std::optional<RnnCell> recurrent_cell_of(ModelType type) {
  switch (type) {
    case ModelType::lstm: return RnnCell::lstm;
    case ModelType::gru: return RnnCell::gru;
    case ModelType::rnn: return RnnCell::rnn_tanh;
    case ModelType::bert:
    case ModelType::transformer: return std::nullopt;
  }
  return std::nullopt;
}

constexpr ModelType model_type_of(RnnCell cell) {
  switch (cell) {
    case RnnCell::lstm: return ModelType::lstm;
    case RnnCell::gru: return ModelType::gru;
    case RnnCell::rnn_tanh: return ModelType::rnn;
  }
  return ModelType::lstm;
}

}  // namespace seqtrain
