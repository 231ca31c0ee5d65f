// Which config a run uses: a fresh run reads the file it is given with its
// --set overrides; a resumed run reads the config.yaml its run directory holds
// (or the file it is given) and keeps that directory as its run_dir.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "config/run_config.h"

namespace seqtrain {

// The config of a run: config_path with overrides for a fresh run. When
// resuming, config_path may be empty (the run's own config.yaml is used), and
// run_dir is always resume_dir.
RunConfig resolve_run_config(const std::string& config_path,
                             const std::vector<std::string>& overrides,
                             const std::string& resume_dir);

// Where a run directory keeps its resolved config (written when the run
// starts, read back when it is resumed, evaluated or sampled from).
std::filesystem::path config_path_of(const std::filesystem::path& run_dir);

}  // namespace seqtrain
