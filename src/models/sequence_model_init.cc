#include "models/sequence_model_init.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>

#include "io/safetensors.h"
#include "seqtrain/error.h"

namespace seqtrain {
namespace {

namespace fs = std::filesystem;

// The recurrent stack's parameters live under this prefix (sequence_model.h).
constexpr std::string_view kRecurrentPrefix = "rnn.";

// The model parameter that file tensor `name` stands for, or "" when none.
// Ambiguity cannot arise from exact names; a suffix match must be unique.
std::string match_parameter(const std::string& name, const std::vector<std::string>& parameters,
                            const fs::path& file) {
  if (std::find(parameters.begin(), parameters.end(), name) != parameters.end()) return name;
  std::vector<std::string> candidates;
  for (const std::string& parameter : parameters) {
    if (!parameter.starts_with(kRecurrentPrefix)) continue;
    const std::string pytorch_name = parameter.substr(kRecurrentPrefix.size());
    if (name == pytorch_name || name.ends_with("." + pytorch_name)) candidates.push_back(parameter);
  }
  if (candidates.size() > 1)
    throw CheckpointError(fmt::format("training.init_from {}: tensor '{}' could be any of {}",
                                      file.string(), name, fmt::join(candidates, ", ")));
  return candidates.empty() ? std::string() : candidates.front();
}

fs::path safetensors_file_of(const fs::path& source) {
  std::error_code error;
  if (fs::is_directory(source, error)) {
    const fs::path inside = source / "model.safetensors";
    if (!fs::is_regular_file(inside, error))
      throw CheckpointError(fmt::format(
          "training.init_from {}: a directory needs a model.safetensors (a seqtrain checkpoint "
          "directory); or give a .safetensors file",
          source.string()));
    return inside;
  }
  if (!fs::exists(source, error))
    throw CheckpointError(fmt::format(
        "training.init_from {}: no such file or directory (a .safetensors file or a checkpoint "
        "directory)",
        source.string()));
  return source;
}

}  // namespace

InitFromResult initialize_sequence_model_from(const fs::path& source,
                                              const std::vector<std::string>& parameter_names,
                                              ParameterStore& parameters) {
  InitFromResult result;
  result.file = safetensors_file_of(source);
  const SafetensorsContents contents = read_safetensors(result.file);
  // Everything is checked before any parameter changes.
  std::map<std::string, const Tensor*> assignments;
  for (const auto& [name, tensor] : contents.tensors) {
    const std::string parameter = match_parameter(name, parameter_names, result.file);
    if (parameter.empty())
      throw CheckpointError(fmt::format(
          "training.init_from {}: tensor '{}' is not a parameter of this model (its parameters: "
          "{}; recurrent ones also under PyTorch's names, e.g. weight_ih_l0)",
          result.file.string(), name, fmt::join(parameter_names, ", ")));
    if (assignments.count(parameter) != 0)
      throw CheckpointError(fmt::format("training.init_from {}: two tensors set parameter '{}'",
                                        result.file.string(), parameter));
    const Parameter& target = parameters.get(parameter);
    if (tensor.dtype() != DType::f32 || tensor.shape() != target.value.shape())
      throw CheckpointError(fmt::format(
          "training.init_from {}: tensor '{}' is {} {}, parameter '{}' is {} {}",
          result.file.string(), name, dtype_name(tensor.dtype()), shape_string(tensor.shape()),
          parameter, dtype_name(DType::f32), shape_string(target.value.shape())));
    assignments[parameter] = &tensor;
  }
  if (assignments.empty())
    throw CheckpointError(
        fmt::format("training.init_from {}: the file holds no tensors", result.file.string()));
  for (const std::string& name : parameter_names) {
    const auto found = assignments.find(name);
    if (found == assignments.end()) {
      result.kept_fresh.push_back(name);
      continue;
    }
    parameters.set_value(parameters.get(name), *found->second);
    result.loaded.push_back(name);
  }
  return result;
}

}  // namespace seqtrain
