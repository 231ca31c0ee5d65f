#include "core/plugin_files.h"

#include <dlfcn.h>
#include <fmt/format.h>

#include <cstdlib>
#include <string_view>

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

FoundPlugin find_plugin(const std::string& what, const std::string& file,
                        const char* environment_variable, const std::string& build_path,
                        const char* entry, int abi,
                        const std::function<void*(const std::string& path, std::string& error)>& open) {
  namespace fs = std::filesystem;
  FoundPlugin found;
  std::string looked;
  for (const fs::path& candidate : plugin_candidates(file, environment_variable, build_path)) {
    std::error_code ignored;
    if (!fs::is_regular_file(candidate, ignored)) {
      looked += looked.empty() ? candidate.string() : ", " + candidate.string();
      continue;
    }
    found.path = fs::weakly_canonical(candidate, ignored).string();
    std::string error;
    void* handle = open(found.path, error);  // stays open for the life of the process
    if (handle == nullptr) {
      found.unavailable =
          fmt::format("the {} plug-in {} cannot be loaded: {}", what, found.path, error);
      return found;
    }
    using Entry = const void* (*)();
    auto entry_point = reinterpret_cast<Entry>(::dlsym(handle, entry));
    if (entry_point == nullptr) {
      found.unavailable = fmt::format("{} has no entry point {}: it is not a seqtrain {} plug-in",
                                      found.path, entry, what);
      return found;
    }
    const void* table = entry_point();
    const auto* header = static_cast<const PluginTableHeader*>(table);
    if (header->abi != abi || std::string_view(header->seqtrain_version) != SEQTRAIN_VERSION) {
      found.unavailable = fmt::format(
          "the {} plug-in {} is from seqtrain {} (plug-in ABI {}), this is {} (ABI {}); use the "
          "plug-in built with this seqtrain",
          what, found.path, header->seqtrain_version, header->abi, SEQTRAIN_VERSION, abi);
      return found;
    }
    found.table = table;
    return found;
  }
  found.unavailable = fmt::format("the {} plug-in {} was not found (looked at {}; {} names it)",
                                  what, file, looked, environment_variable);
  return found;
}

}  // namespace seqtrain
