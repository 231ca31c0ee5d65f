#include "train/run_directory.h"

#include "io/atomic_write.h"
#include "seqtrain/error.h"
#include "train/checkpoint.h"

namespace seqtrain {

namespace fs = std::filesystem;

fs::path config_path_of(const fs::path& run_dir) { return run_dir / "config.yaml"; }

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

RunConfig resolve_run_config(const std::string& config_path,
                             const std::vector<std::string>& overrides,
                             const std::string& resume_dir) {
  if (resume_dir.empty()) {
    if (config_path.empty())
      throw ConfigError("no config given: seqtrain train CONFIG.yaml (or --resume RUN_DIR)");
    return load_run_config(config_path, overrides);
  }
  if (!fs::is_directory(resume_dir))
    throw CheckpointError(fmt::format(
        "{}: no such run directory (give the run_dir of a seqtrain run)", resume_dir));
  const std::string path = config_path.empty() ? config_path_of(resume_dir).string() : config_path;
  std::vector<std::string> all = overrides;
  all.push_back("run_dir=" + resume_dir);
  return load_run_config(path, all);
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
    if (saved.task != config.task || saved.model != config.model || saved.data != config.data)
      throw CheckpointError(fmt::format(
          "--resume {}: the config's task, model or data section differs from the run's {}; "
          "resume with the run's own config (omit CONFIG) or start a new run_dir",
          run_dir.string(), saved_path.string()));
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
