#include "train/checkpoint.h"

#include <fcntl.h>
#include <stdio.h>   // renameat2
#include <stdlib.h>  // mkdtemp

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <set>
#include <vector>

#include <fmt/ranges.h>

#include "io/atomic_write.h"
#include "io/read_file.h"
#include "seqtrain/error.h"

namespace seqtrain {
namespace {

constexpr int kTrainerStateFormatVersion = 1;
constexpr std::string_view kStepPrefix = "step_";
constexpr std::string_view kTempPrefix = ".step_";

std::filesystem::path checkpoints_root(const std::filesystem::path& run_dir) {
  return run_dir / "checkpoints";
}

// The N of a directory named step_<N> (digits only), or nothing.
std::optional<std::int64_t> step_of_directory_name(const std::string& name) {
  if (!name.starts_with(kStepPrefix) || name.size() == kStepPrefix.size()) return std::nullopt;
  std::int64_t step = 0;
  const char* first = name.data() + kStepPrefix.size();
  const char* last = name.data() + name.size();
  if (!std::all_of(first, last, [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  auto [end, error] = std::from_chars(first, last, step);
  if (error != std::errc() || end != last) return std::nullopt;
  return step;
}

// The files of a checkpoint directory that are missing (empty when complete).
std::vector<std::string> missing_checkpoint_files(const std::filesystem::path& directory) {
  std::vector<std::string> missing;
  std::error_code error;
  for (const char* file : {kModelFileName, kOptimizerFileName, kTrainerStateFileName})
    if (!std::filesystem::is_regular_file(directory / file, error)) missing.emplace_back(file);
  return missing;
}

// Every step_<N> directory, complete or not, newest first.
std::vector<std::pair<std::int64_t, std::filesystem::path>> step_directories(
    const std::filesystem::path& run_dir) {
  std::vector<std::pair<std::int64_t, std::filesystem::path>> found;
  const std::filesystem::path root = checkpoints_root(run_dir);
  std::error_code error;
  if (!std::filesystem::is_directory(root, error)) return found;
  std::filesystem::directory_iterator entries(root, error);
  if (error)
    throw CheckpointError(
        fmt::format("cannot list checkpoints in '{}': {}", root.string(), error.message()));
  for (const auto& entry : entries) {
    std::optional<std::int64_t> step = step_of_directory_name(entry.path().filename().string());
    if (step && entry.is_directory(error)) found.emplace_back(*step, entry.path());
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a > b; });
  return found;
}

// Complete step_<N> directories, newest first.
std::vector<std::pair<std::int64_t, std::filesystem::path>> complete_checkpoints(
    const std::filesystem::path& run_dir) {
  auto found = step_directories(run_dir);
  std::erase_if(found, [](const auto& entry) { return !missing_checkpoint_files(entry.second).empty(); });
  return found;
}

std::string shape_text(const Tensor& tensor) {
  return fmt::format("{} {}", dtype_name(tensor.dtype()), shape_string(tensor.shape()));
}

// The file's tensors must be exactly `expected` (name -> shape), all f32.
void check_tensor_set(const std::filesystem::path& path, const SafetensorsContents& contents,
                      const std::map<std::string, Shape>& expected, const char* what) {
  for (const auto& [name, shape] : expected) {
    auto it = contents.tensors.find(name);
    if (it == contents.tensors.end())
      throw CheckpointError(fmt::format("checkpoint file '{}' has no tensor '{}' ({} {})",
                                        path.string(), name, what, shape_string(shape)));
    if (it->second.shape() != shape || it->second.dtype() != DType::f32)
      throw CheckpointError(
          fmt::format("checkpoint file '{}': tensor '{}' is {} in the file, the {} needs f32 {}",
                      path.string(), name, shape_text(it->second), what, shape_string(shape)));
  }
  for (const auto& [name, tensor] : contents.tensors)
    if (!expected.contains(name))
      throw CheckpointError(
          fmt::format("checkpoint file '{}' has tensor '{}' ({}) that the {} does not have",
                      path.string(), name, shape_text(tensor), what));
}

nlohmann::json read_trainer_state(const std::filesystem::path& path) {
  const std::string text = read_file(path);
  nlohmann::json state = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (state.is_discarded())
    throw CheckpointError(fmt::format("checkpoint file '{}' is not valid JSON", path.string()));
  auto fail = [&](const std::string& what) {
    throw CheckpointError(fmt::format("checkpoint file '{}': {}", path.string(), what));
  };
  if (!state.is_object()) fail("not a JSON object");
  if (!state.contains("format_version") || state["format_version"] != kTrainerStateFormatVersion)
    fail(fmt::format("format_version is {}, this seqtrain reads {}",
                     state.value("format_version", nlohmann::json()).dump(),
                     kTrainerStateFormatVersion));
  if (!state.contains("step") || !state["step"].is_number_integer() || state["step"] < 0)
    fail("'step' is missing or not a non-negative integer");
  const nlohmann::json* optimizer = state.contains("optimizer") ? &state["optimizer"] : nullptr;
  if (optimizer == nullptr || !optimizer->is_object() || !optimizer->contains("name") ||
      !(*optimizer)["name"].is_string() || !optimizer->contains("step_count") ||
      !(*optimizer)["step_count"].is_number_integer() || (*optimizer)["step_count"] < 0)
    fail("'optimizer' must be {\"name\": string, \"step_count\": non-negative integer}");
  if (!state.contains("trainer") || !state["trainer"].is_object())
    fail("'trainer' is missing or not a JSON object");
  return state;
}

void remove_quietly(const std::filesystem::path& path) {
  std::error_code ignored;
  std::filesystem::remove_all(path, ignored);
}

}  // namespace

std::filesystem::path checkpoint_directory(const std::filesystem::path& run_dir,
                                           std::int64_t step) {
  return checkpoints_root(run_dir) / fmt::format("{}{}", kStepPrefix, step);
}

ModelCheckpointFormat parameter_checkpoint_format(ParameterStore& parameters) {
  ModelCheckpointFormat format;
  format.tensors = [&parameters] {
    std::vector<NamedTensor> tensors;
    for (const auto& parameter : parameters.all())
      tensors.push_back({parameter->name, parameters.value_to_host(*parameter)});
    return tensors;
  };
  format.check = [&parameters](const std::filesystem::path& model_file,
                               const SafetensorsContents& contents) {
    std::map<std::string, Shape> parameter_shapes;
    for (const auto& parameter : parameters.all())
      parameter_shapes[parameter->name] = parameter->value.shape();
    check_tensor_set(model_file, contents, parameter_shapes, "model");
  };
  format.set = [&parameters](const SafetensorsContents& contents) {
    for (const auto& parameter : parameters.all())
      parameters.set_value(*parameter, contents.tensors.at(parameter->name));
  };
  return format;
}

std::filesystem::path save_checkpoint(const std::filesystem::path& run_dir, std::int64_t step,
                                      ParameterStore& parameters, const Optimizer& optimizer,
                                      const nlohmann::json& trainer_state) {
  return save_checkpoint(run_dir, step, parameter_checkpoint_format(parameters), optimizer,
                         trainer_state);
}

LoadedCheckpoint load_checkpoint(const std::filesystem::path& checkpoint_dir,
                                 ParameterStore& parameters, Optimizer* optimizer) {
  return load_checkpoint(checkpoint_dir, parameter_checkpoint_format(parameters), optimizer);
}

std::filesystem::path save_checkpoint(const std::filesystem::path& run_dir, std::int64_t step,
                                      const ModelCheckpointFormat& model,
                                      const Optimizer& optimizer,
                                      const nlohmann::json& trainer_state,
                                      const std::vector<NamedTensor>& state_tensors) {
  SEQTRAIN_CHECK(step >= 0, "checkpoint of step {}", step);
  SEQTRAIN_CHECK(trainer_state.is_object(), "trainer state is {}, not a JSON object",
                 trainer_state.type_name());
  const std::filesystem::path root = checkpoints_root(run_dir);
  std::error_code error;
  std::filesystem::create_directories(root, error);
  if (error)
    throw CheckpointError(
        fmt::format("cannot create checkpoint directory '{}': {}", root.string(), error.message()));
  const std::filesystem::path target = checkpoint_directory(run_dir, step);
  if (std::filesystem::exists(std::filesystem::symlink_status(target, error)))
    throw CheckpointError(fmt::format(
        "checkpoint '{}' already exists and seqtrain never writes over a checkpoint; move it out "
        "of {} to save step {} again",
        target.string(), root.string(), step));

  std::string temp_template = (root / fmt::format("{}{}.tmp-XXXXXX", kTempPrefix, step)).string();
  if (::mkdtemp(temp_template.data()) == nullptr)
    throw CheckpointError(fmt::format("cannot create a temp directory in '{}': {}", root.string(),
                                      std::strerror(errno)));
  const std::filesystem::path temp(temp_template);
  try {
    write_safetensors(temp / kModelFileName, model.tensors(), {{"format", "pt"}});
    for (const auto& [name, bytes] : model.extra_files) write_file_atomically(temp / name, bytes);

    std::vector<NamedTensor> state;
    for (auto& [name, tensor] : optimizer.state_to_host()) state.push_back({name, tensor});
    write_safetensors(temp / kOptimizerFileName, state,
                      {{"format", "pt"}, {"optimizer", optimizer.name()}});

    nlohmann::json document = {
        {"format_version", kTrainerStateFormatVersion},
        {"step", step},
        {"optimizer", {{"name", optimizer.name()}, {"step_count", optimizer.step_count()}}},
        {"trainer", trainer_state}};
    if (!state_tensors.empty()) {
      write_safetensors(temp / kTrainerTensorsFileName, state_tensors, {{"format", "pt"}});
      document["tensors_file"] = kTrainerTensorsFileName;
    }
    write_file_atomically(temp / kTrainerStateFileName, document.dump(2) + "\n");

    // Into place in one rename. RENAME_NOREPLACE: a step_<N> that appeared
    // since the check above is kept, not replaced.
    if (::renameat2(AT_FDCWD, temp.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE) != 0)
      throw CheckpointError(fmt::format("cannot rename '{}' to '{}': {}", temp.string(),
                                        target.string(), std::strerror(errno)));
    sync_directory(root);
  } catch (...) {
    remove_quietly(temp);
    throw;
  }
  write_latest_pointer(run_dir, target);
  return target;
}

std::optional<std::filesystem::path> find_latest_checkpoint(const std::filesystem::path& run_dir) {
  auto found = complete_checkpoints(run_dir);
  if (found.empty()) return std::nullopt;
  return found.front().second;
}

std::optional<std::filesystem::path> find_resume_checkpoint(const std::filesystem::path& run_dir) {
  const auto found = step_directories(run_dir);
  if (found.empty()) return std::nullopt;
  const std::filesystem::path& newest = found.front().second;
  const std::vector<std::string> missing = missing_checkpoint_files(newest);
  if (missing.empty()) return newest;
  const auto older = std::find_if(found.begin() + 1, found.end(), [](const auto& entry) {
    return missing_checkpoint_files(entry.second).empty();
  });
  const std::string fallback =
      older == found.end()
          ? std::string("start a fresh run (no older checkpoint is complete)")
          : fmt::format("move {} out of {} to resume from {}", newest.filename().string(),
                        checkpoints_root(run_dir).string(), older->second.filename().string());
  throw CheckpointError(fmt::format(
      "the newest checkpoint '{}' is incomplete ({} missing); nothing was changed: restore the "
      "file, or {}",
      newest.string(), fmt::join(missing, ", "), fallback));
}

void remove_interrupted_saves(const std::filesystem::path& run_dir) {
  const std::filesystem::path root = checkpoints_root(run_dir);
  std::error_code error;
  if (!std::filesystem::is_directory(root, error)) return;
  std::vector<std::filesystem::path> leftovers;
  for (const auto& entry : std::filesystem::directory_iterator(root, error)) {
    const std::string name = entry.path().filename().string();
    // ".step_<N>.tmp-*" directories, and ".best.tmp-*" links (checkpoint_policy.h).
    if ((name.starts_with(kTempPrefix) || name.starts_with(".best")) &&
        name.find(".tmp-") != std::string::npos)
      leftovers.push_back(entry.path());
  }
  for (const auto& path : leftovers) remove_quietly(path);
}

void write_latest_pointer(const std::filesystem::path& run_dir,
                          const std::filesystem::path& checkpoint_dir) {
  write_file_atomically(checkpoints_root(run_dir) / "latest",
                        checkpoint_dir.filename().string() + "\n");
}

LoadedCheckpoint load_checkpoint(const std::filesystem::path& checkpoint_dir,
                                 const ModelCheckpointFormat& model, Optimizer* optimizer) {
  const std::filesystem::path state_path = checkpoint_dir / kTrainerStateFileName;
  const nlohmann::json state = read_trainer_state(state_path);
  if (auto directory_step = step_of_directory_name(checkpoint_dir.filename().string());
      directory_step && *directory_step != state["step"].get<std::int64_t>())
    throw CheckpointError(fmt::format("checkpoint file '{}' says step {}, its directory step {}",
                                      state_path.string(), state["step"].dump(), *directory_step));

  const std::filesystem::path model_path = checkpoint_dir / kModelFileName;
  const SafetensorsContents model_tensors = read_safetensors(model_path);
  model.check(model_path, model_tensors);

  SafetensorsContents optimizer_state;
  if (optimizer != nullptr) {
    const std::string saved_by = state["optimizer"]["name"].get<std::string>();
    if (saved_by != optimizer->name())
      throw CheckpointError(fmt::format(
          "checkpoint '{}' holds {} optimizer state, this run uses {}: resume with the same "
          "optimizer or load the weights only",
          checkpoint_dir.string(), saved_by, optimizer->name()));
    const std::filesystem::path optimizer_path = checkpoint_dir / kOptimizerFileName;
    optimizer_state = read_safetensors(optimizer_path);
    check_tensor_set(optimizer_path, optimizer_state, optimizer->state_shapes(), "optimizer");
  }

  SafetensorsContents state_tensors;
  if (state.contains("tensors_file")) {
    const std::filesystem::path tensors_path = checkpoint_dir / kTrainerTensorsFileName;
    if (state["tensors_file"] != kTrainerTensorsFileName)
      throw CheckpointError(fmt::format("checkpoint file '{}' names tensors_file {}; expected \"{}\"",
                                        state_path.string(), state["tensors_file"].dump(),
                                        kTrainerTensorsFileName));
    state_tensors = read_safetensors(tensors_path);
  }

  model.set(model_tensors);
  if (optimizer != nullptr)
    optimizer->load_state(optimizer_state.tensors,
                          state["optimizer"]["step_count"].get<std::int64_t>());
  return {state["step"].get<std::int64_t>(), state["trainer"], std::move(state_tensors.tensors)};
}

std::vector<std::filesystem::path> prune_checkpoints(const std::filesystem::path& run_dir,
                                                     std::int64_t keep,
                                                     std::optional<std::int64_t> also_keep) {
  SEQTRAIN_CHECK(keep >= 1, "keeping {} checkpoints", keep);
  std::vector<std::filesystem::path> removed;
  auto found = complete_checkpoints(run_dir);
  for (std::size_t index = static_cast<std::size_t>(keep); index < found.size(); ++index) {
    if (found[index].first == also_keep) continue;
    remove_quietly(found[index].second);
    removed.push_back(found[index].second);
  }
  remove_interrupted_saves(run_dir);
  return removed;
}

}  // namespace seqtrain
