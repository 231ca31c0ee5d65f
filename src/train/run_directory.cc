#include "train/run_directory.h"

#include "config/resolve_run_config.h"
#include "config/run_config_values.h"
#include "io/atomic_write.h"
#include "seqtrain/error.h"
#include "train/checkpoint.h"

namespace seqtrain {

namespace fs = std::filesystem;

FreshRunDirectoryGuard::FreshRunDirectoryGuard(fs::path run_dir, bool created, bool resuming)
    : run_dir_(std::move(run_dir)), created_(created), armed_(!resuming) {}

FreshRunDirectoryGuard::~FreshRunDirectoryGuard() {
  if (!armed_) return;
  std::error_code error;  // best effort: the setup's own error is what the user sees
  if (created_) {
    fs::remove_all(run_dir_, error);
    return;
  }
  for (const fs::directory_entry& entry : fs::directory_iterator(run_dir_, error))
    fs::remove_all(entry.path(), error);
}

fs::path require_latest_checkpoint(const fs::path& run_dir) {
  std::optional<fs::path> latest = find_latest_checkpoint(run_dir);
  if (!latest)
    throw CheckpointError(fmt::format("{} has no complete checkpoint under {}/checkpoints; train it "
                                      "first (seqtrain train) or pass --checkpoint DIR",
                                      run_dir.string(), run_dir.string()));
  return *latest;
}

fs::path resolve_checkpoint_argument(const fs::path& run_dir, const std::string& argument) {
  if (argument.empty()) return require_latest_checkpoint(run_dir);
  const fs::path given(argument);
  if (given.is_absolute()) return given;
  std::error_code ignored;
  for (const fs::path& inside : {run_dir / "checkpoints" / given, run_dir / given})
    if (fs::is_directory(inside, ignored)) return inside;
  return given;
}

bool prepare_run_directory(const fs::path& run_dir, const RunConfig& config, bool resuming) {
  std::error_code error;
  bool created = false;
  if (resuming) {
    const fs::path saved_path = config_path_of(run_dir);
    if (!fs::exists(saved_path))
      throw CheckpointError(fmt::format("--resume {}: {} is missing; is this a seqtrain run directory?",
                                        run_dir.string(), saved_path.string()));
    RunConfig saved = load_run_config(saved_path.string(), {"run_dir=" + run_dir.string()});
    if (saved.task != config.task || saved.model != config.model || saved.data != config.data) {
      const std::optional<ConfigDifference> difference =
          first_difference(saved, config, {"task", "model", "data"});
      throw CheckpointError(fmt::format(
          "--resume {}: {}; a resumed run keeps the task, model and data of its {}: undo that "
          "change (the --set, or the CONFIG given) or train into a new run_dir",
          run_dir.string(),
          difference ? fmt::format("{} would be {}, but the run has {}", difference->path,
                                   difference->after, difference->before)
                     : std::string("the task, model or data section differs"),
          saved_path.string()));
    }
  } else {
    if (fs::exists(run_dir) && !fs::is_empty(run_dir, error))
      throw ConfigError(fmt::format(
          "run_dir {} already holds files; continue that run with --resume {}, or choose another "
          "run_dir (--set run_dir=...)",
          run_dir.string(), run_dir.string()));
    created = fs::create_directories(run_dir, error);
    if (error)
      throw ConfigError(fmt::format("run_dir {}: cannot create it: {}", run_dir.string(), error.message()));
  }
  write_file_atomically(config_path_of(run_dir), resolved_yaml(config));
  return created;
}

}  // namespace seqtrain
