#include "config/resolve_run_config.h"

#include <fmt/format.h>

#include "seqtrain/error.h"

namespace seqtrain {

namespace fs = std::filesystem;

fs::path config_path_of(const fs::path& run_dir) {
  return run_dir / "config.yaml";
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
    throw CheckpointError(
        fmt::format("{}: no such run directory (give the run_dir of a seqtrain run)", resume_dir));
  const std::string path = config_path.empty() ? config_path_of(resume_dir).string() : config_path;
  std::vector<std::string> all = overrides;
  all.push_back("run_dir=" + resume_dir);
  return load_run_config(path, all);
}

}  // namespace seqtrain
