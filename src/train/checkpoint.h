// Checkpoints: everything a run needs to continue exactly where it stopped.
//
//   <run_dir>/checkpoints/step_<N>/model.safetensors      parameters by name, F32,
//                                                          metadata {"format": "pt"}
//                                  optimizer.safetensors  "<param>.exp_avg", ...
//                                  trainer_state.json     see below
//   <run_dir>/checkpoints/latest                          "step_<N>", for people and
//                                                          scripts
// trainer_state.json:
//   {"format_version": 1, "step": N,
//    "optimizer": {"name": "adamw", "step_count": M},
//    "trainer": <whatever the trainer passed: RNG positions, data position, metrics,
//                config summary>}
//
// A checkpoint is written into a hidden temp directory beside the others
// (".step_<N>.tmp-XXXXXX"), each file fsynced, then renamed into place in one
// step, so a step_<N> directory is always complete; a crash leaves at most a
// temp directory, which find_latest_checkpoint ignores and prune_checkpoints
// removes. Saving a step that already exists swaps the new directory in
// atomically and then deletes the old one.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include "seqtrain/parameters.h"
#include "train/optimizer.h"

namespace seqtrain {

inline constexpr const char* kModelFileName = "model.safetensors";
inline constexpr const char* kOptimizerFileName = "optimizer.safetensors";
inline constexpr const char* kTrainerStateFileName = "trainer_state.json";

// <run_dir>/checkpoints/step_<step>
std::filesystem::path checkpoint_directory(const std::filesystem::path& run_dir, std::int64_t step);

// Writes the checkpoint of `step` and points `latest` at it; returns its
// directory. trainer_state is a JSON object the trainer fills; it comes back
// unchanged from load_checkpoint. I/O failures are CheckpointErrors naming the
// file; nothing partial is left under a step_<N> name.
std::filesystem::path save_checkpoint(const std::filesystem::path& run_dir, std::int64_t step,
                                      const ParameterStore& parameters, const Optimizer& optimizer,
                                      const nlohmann::json& trainer_state);

// The complete checkpoint with the highest step under <run_dir>/checkpoints, or
// nothing. Temp directories and step directories missing a file are skipped.
std::optional<std::filesystem::path> find_latest_checkpoint(const std::filesystem::path& run_dir);

struct LoadedCheckpoint {
  std::int64_t step = 0;
  nlohmann::json trainer_state;  // what save_checkpoint was given
};

// Loads a checkpoint directory into the parameters and, unless it is null, the
// optimizer. Every parameter must be in model.safetensors with the same shape
// and nothing else may be there (and likewise for the optimizer's state); a
// mismatch is a CheckpointError naming the file, the tensor and both shapes.
// Everything is checked before anything is changed.
LoadedCheckpoint load_checkpoint(const std::filesystem::path& checkpoint_dir,
                                 ParameterStore& parameters, Optimizer* optimizer);

// Keeps the `keep` newest complete checkpoints (keep >= 1) and removes older
// ones and temp directories left by interrupted saves.
void prune_checkpoints(const std::filesystem::path& run_dir, int keep);

}  // namespace seqtrain
