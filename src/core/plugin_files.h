// Where seqtrain's plug-ins (the CUDA backend, the MPI communicator) are
// looked for, in order: the path in the environment variable that names one;
// ../lib/ and ./ beside the running executable (a package's bin/ + lib/, the
// build tree's top folder); the build tree's own copy (build_path, may be
// empty), which test and benchmark binaries in subfolders find.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace seqtrain {

std::vector<std::filesystem::path> plugin_candidates(const std::string& file,
                                                     const char* environment_variable,
                                                     const std::string& build_path);

}  // namespace seqtrain
