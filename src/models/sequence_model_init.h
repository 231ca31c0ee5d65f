// training.init_from for the sequence models: start from outside weights, a
// safetensors file (a PyTorch state_dict saved with safetensors) or a
// checkpoint directory (its model.safetensors).
//
// Each tensor of the file is matched to one parameter of the model: by its
// exact name ("embedding.weight", "rnn.weight_ih_l0", "head.bias", the names
// seqtrain writes), or, for the recurrent stack's parameters, by PyTorch's
// nn.LSTM / nn.GRU / nn.RNN name under any module prefix ("weight_ih_l0" of
// an nn.LSTM saved alone, "encoder.lstm.bias_hh_l1_reverse" of a larger
// module). Gate order and layout are PyTorch's (models/recurrent_stack.h), so
// the tensors are copied as they are. A tensor that matches nothing, matches
// ambiguously, or has another shape or dtype is a CheckpointError of one line
// naming it; parameters the file does not hold keep their fresh
// initialisation, and the log lists them.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "seqtrain/parameters.h"

namespace seqtrain {

struct InitFromResult {
  std::filesystem::path file;          // the safetensors file read
  std::vector<std::string> loaded;     // parameter names set from it
  std::vector<std::string> kept_fresh; // parameter names it did not hold
};

// parameter_names: the model's parameters (in the store) that may be set.
InitFromResult initialize_sequence_model_from(const std::filesystem::path& source,
                                              const std::vector<std::string>& parameter_names,
                                              ParameterStore& parameters);

}  // namespace seqtrain
