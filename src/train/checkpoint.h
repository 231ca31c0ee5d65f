// Checkpoints: everything a run needs to continue exactly where it stopped.
//
//   <run_dir>/checkpoints/step_<N>/model.safetensors      the weights, F32, metadata
//                                                          {"format": "pt"}: parameters
//                                                          by name, or as the model's
//                                                          ModelCheckpointFormat says
//                                  <extra files>          the format's (mlm: config.json,
//                                                          tokenizer.model)
//                                  optimizer.safetensors  "<param>.exp_avg", ...
//                                  trainer_state.json     see below
//                                  trainer_state.safetensors  the state's tensors, if any
//   <run_dir>/checkpoints/latest                          "step_<N>", for people and
//                                                          scripts
// trainer_state.json:
//   {"format_version": 1, "step": N,
//    "optimizer": {"name": "adamw", "step_count": M},
//    "tensors_file": "trainer_state.safetensors"   (only when there are state tensors)
//    "trainer": <whatever the trainer passed: RNG positions, data position, metrics,
//                config summary>}
//
// A checkpoint is written into a hidden temp directory beside the others
// (".step_<N>.tmp-XXXXXX"), each file fsynced, then renamed into place in one
// step, so a step_<N> directory is always complete; a crash leaves at most a
// temp directory, which find_latest_checkpoint ignores and
// remove_interrupted_saves (called when a run resumes) removes. A checkpoint
// directory is never written over: saving a step that exists is an error.
// `latest` is derived: rewritten after every save and when a run resumes, so a
// kill between the rename and its update leaves it stale only until then.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "io/safetensors.h"
#include "seqtrain/parameters.h"
#include "train/optimizer.h"

namespace seqtrain {

inline constexpr const char* kModelFileName = "model.safetensors";
inline constexpr const char* kOptimizerFileName = "optimizer.safetensors";
inline constexpr const char* kTrainerStateFileName = "trainer_state.json";
// The trainer state's tensors (a charlm run's carried recurrent state), when it
// has any: binary, where JSON text would be megabytes.
inline constexpr const char* kTrainerTensorsFileName = "trainer_state.safetensors";

// <run_dir>/checkpoints/step_<step>
std::filesystem::path checkpoint_directory(const std::filesystem::path& run_dir, std::int64_t step);

// How a model's weights are written to model.safetensors and read back, and
// the files saved beside them.
struct ModelCheckpointFormat {
  // The host tensors of model.safetensors, in file order.
  std::function<std::vector<NamedTensor>()> tensors;
  // Checks that the file's tensors fit the model: a CheckpointError naming
  // model_file and the tensor otherwise.
  std::function<void(const std::filesystem::path& model_file, const SafetensorsContents&)> check;
  // Sets the weights from tensors that passed check.
  std::function<void(const SafetensorsContents&)> set;
  // File name -> bytes, written into the checkpoint directory.
  std::vector<std::pair<std::string, std::string>> extra_files;
};

// Every parameter under its own name; loading needs exactly those tensors
// with the same shapes (a CheckpointError naming the file, the tensor and
// both shapes otherwise).
ModelCheckpointFormat parameter_checkpoint_format(ParameterStore& parameters);

// Writes the checkpoint of `step` and points `latest` at it; returns its
// directory. trainer_state is a JSON object the trainer fills, state_tensors
// the tensors that go with it; both come back unchanged from load_checkpoint. I/O failures are CheckpointErrors naming the
// file; nothing partial is left under a step_<N> name. A step_<N> that exists
// already is a CheckpointError and stays as it was.
std::filesystem::path save_checkpoint(const std::filesystem::path& run_dir, std::int64_t step,
                                      const ModelCheckpointFormat& model,
                                      const Optimizer& optimizer,
                                      const nlohmann::json& trainer_state,
                                      const std::vector<NamedTensor>& state_tensors = {});
// The same with parameter_checkpoint_format.
std::filesystem::path save_checkpoint(const std::filesystem::path& run_dir, std::int64_t step,
                                      ParameterStore& parameters, const Optimizer& optimizer,
                                      const nlohmann::json& trainer_state);

// The complete checkpoint with the highest step under <run_dir>/checkpoints, or
// nothing. Temp directories and step directories missing a file are skipped.
std::optional<std::filesystem::path> find_latest_checkpoint(const std::filesystem::path& run_dir);

// The checkpoint a resumed run continues from: the newest step_<N> directory,
// or nothing when there is none. When that directory is incomplete (a file
// deleted by hand), a CheckpointError names it, the missing files and the
// older complete checkpoint it could resume from instead: resuming from an
// older one silently, or from step 0, would later write over it.
std::optional<std::filesystem::path> find_resume_checkpoint(const std::filesystem::path& run_dir);

// Removes the temp directories of saves that a kill interrupted.
void remove_interrupted_saves(const std::filesystem::path& run_dir);

// Points <run_dir>/checkpoints/latest at checkpoint_dir (atomically).
void write_latest_pointer(const std::filesystem::path& run_dir,
                          const std::filesystem::path& checkpoint_dir);

struct LoadedCheckpoint {
  std::int64_t step = 0;
  nlohmann::json trainer_state;  // what save_checkpoint was given
  std::map<std::string, Tensor> state_tensors;
};

// Loads a checkpoint directory into the model (through its format) and,
// unless it is null, the optimizer, whose state must hold exactly its tensors
// with the same shapes; a mismatch is a CheckpointError naming the file, the
// tensor and both shapes. Everything is checked before anything is changed.
LoadedCheckpoint load_checkpoint(const std::filesystem::path& checkpoint_dir,
                                 const ModelCheckpointFormat& model, Optimizer* optimizer);
// The same with parameter_checkpoint_format: every parameter must be in
// model.safetensors with the same shape and nothing else may be there.
LoadedCheckpoint load_checkpoint(const std::filesystem::path& checkpoint_dir,
                                 ParameterStore& parameters, Optimizer* optimizer);

// Keeps the `keep` newest complete checkpoints (keep >= 1) and the one of
// step also_keep (training.keep_best's), and removes older ones and temp
// directories left by interrupted saves. Returns the removed directories.
std::vector<std::filesystem::path> prune_checkpoints(
    const std::filesystem::path& run_dir, std::int64_t keep,
    std::optional<std::int64_t> also_keep = std::nullopt);

}  // namespace seqtrain
