// The run directory: where a run's resolved config, logs, metrics and
// checkpoints live. Which config a run uses is config/resolve_run_config.h.
#pragma once

#include <filesystem>
#include <string>

#include "config/run_config.h"

namespace seqtrain {

// A fresh run needs a missing or empty directory (ConfigError otherwise, naming
// --resume as the way to continue); it is created and config.yaml written. A
// resumed run needs the directory and its config.yaml; the config's model and
// data sections must match what the run was started with (a CheckpointError
// names the first key that differs). The resolved config is then rewritten, so
// a run extended with --set training.steps=N records it. Returns whether the
// directory was created here (a fresh run into a missing directory).
bool prepare_run_directory(const std::filesystem::path& run_dir, const RunConfig& config,
                           bool resuming);

// Made right after prepare_run_directory succeeded, over a fresh run's setup
// (data, tokenizer, model, init_from): if that throws, the destructor removes
// what the run wrote into run_dir (which prepare_run_directory found empty or
// absent), and run_dir itself when prepare_run_directory created it, so the
// retry with a fixed config is not refused as "already holds files".
// dismiss() once setup is done; a resumed run is never touched.
class FreshRunDirectoryGuard {
 public:
  FreshRunDirectoryGuard(std::filesystem::path run_dir, bool created, bool resuming);
  FreshRunDirectoryGuard(const FreshRunDirectoryGuard&) = delete;
  FreshRunDirectoryGuard& operator=(const FreshRunDirectoryGuard&) = delete;
  ~FreshRunDirectoryGuard();
  void dismiss() { armed_ = false; }

 private:
  std::filesystem::path run_dir_;
  bool created_;
  bool armed_;
};

// The newest complete checkpoint of a run; a CheckpointError when it has none.
std::filesystem::path require_latest_checkpoint(const std::filesystem::path& run_dir);

// The checkpoint a --checkpoint argument names, inside the run directory
// first: empty is the newest (require_latest_checkpoint); an absolute path is
// itself; a relative one is run_dir/checkpoints/<it> or run_dir/<it> when that
// exists ("step_500"), else the path as given from the current directory.
std::filesystem::path resolve_checkpoint_argument(const std::filesystem::path& run_dir,
                                                  const std::string& argument);

}  // namespace seqtrain
