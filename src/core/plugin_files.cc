#include "core/plugin_files.h"

#include <cstdlib>

namespace seqtrain {

std::vector<std::filesystem::path> plugin_candidates(const std::string& file,
                                                     const char* environment_variable,
                                                     const std::string& build_path) {
  namespace fs = std::filesystem;
  if (const char* named = std::getenv(environment_variable); named != nullptr && *named != '\0')
    return {fs::path(named)};
  std::vector<fs::path> candidates;
  std::error_code error;
  const fs::path self = fs::read_symlink("/proc/self/exe", error);
  if (!error) {
    candidates.push_back(self.parent_path() / ".." / "lib" / file);
    candidates.push_back(self.parent_path() / file);
  }
  if (!build_path.empty()) candidates.emplace_back(build_path);
  return candidates;
}

}  // namespace seqtrain
