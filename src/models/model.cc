#include "models/model.h"

#include "seqtrain/error.h"

namespace seqtrain {

void Model::bind_inputs(Executor& executor, const ModelInputs& inputs) const {
  for (const ModelInput& input : inputs) {
    const Tensor& slot = executor.input(input.name);
    SEQTRAIN_CHECK(input.tensor.numel() == slot.numel() && input.tensor.dtype() == slot.dtype(),
                   "input '{}' is {} {}, given {} {}", input.name, shape_string(slot.shape()),
                   dtype_name(slot.dtype()), shape_string(input.tensor.shape()),
                   dtype_name(input.tensor.dtype()));
    executor.set_input(input.name, input.tensor.shape() == slot.shape()
                                       ? input.tensor
                                       : input.tensor.reshaped(slot.shape()));
  }
}

void Model::record_parameter_names(const ParameterStore& parameters, std::size_t first_new) {
  const auto& all = parameters.all();
  for (std::size_t i = first_new; i < all.size(); ++i) parameter_names_.push_back(all[i]->name);
}

}  // namespace seqtrain
