// Where seqtrain's plug-ins (the CUDA backend, the MPI communicator) are
// looked for, in order: the path in the environment variable that names one;
// ../lib/ and ./ beside the running executable (a package's bin/ + lib/, the
// build tree's top folder); the build tree's own copy (build_path, may be
// empty), which test and benchmark binaries in subfolders find.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace seqtrain {

std::vector<std::filesystem::path> plugin_candidates(const std::string& file,
                                                     const char* environment_variable,
                                                     const std::string& build_path);

// Every plug-in's table of entry points starts with these two members.
struct PluginTableHeader {
  int abi;
  const char* seqtrain_version;
};

// What was found: the plug-in's table (null when unavailable), where it was
// loaded from, or why it is unavailable.
struct FoundPlugin {
  const void* table = nullptr;
  std::string path;
  std::string unavailable;
};

// A loaded plug-in as its callers hold it: the typed table (null when
// unavailable), where it came from, or why it is unavailable.
template <class Api>
struct Plugin {
  const Api* api = nullptr;
  std::string path;
  std::string unavailable;

  static Plugin from(const FoundPlugin& found) {
    return {static_cast<const Api*>(found.table), found.path, found.unavailable};
  }
};

// Looks for `file` (plugin_candidates), opens the first that exists with
// `open` (a dlopen; it returns null and sets its error to say why), calls its
// C entry point `entry` and checks the table's abi and seqtrain version.
// `what` names the plug-in in the messages ("CUDA"). Never throws.
FoundPlugin find_plugin(const std::string& what, const std::string& file,
                        const char* environment_variable, const std::string& build_path,
                        const char* entry, int abi,
                        const std::function<void*(const std::string& path, std::string& error)>& open);

}  // namespace seqtrain
