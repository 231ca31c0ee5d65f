// The MPI communicator is a plug-in, libseqtrain_mpi.so, built where MPI
// (OpenMPI) was found and loaded only when a launch asks for it
// (communicator.h): so seqtrain starts where no MPI library exists, and a
// single-process run never initialises MPI. It exports one C symbol that
// returns this table (same build: abi and version are checked on load, and
// stay the first two members).
#pragma once

#include <memory>
#include <string>

#include "core/plugin_files.h"

#include "dist/communicator.h"

namespace seqtrain {

inline constexpr int kMpiPluginAbi = 3;  // 2: start_all_reduce_sum; 3: memory, _list
struct MpiPluginApi {
  int abi;
  const char* seqtrain_version;
  // The MPI library's own name and version ("Open MPI v4.1.4, ...").
  std::string (*library_version)();
  // Initialises MPI (once per process) and returns the world communicator.
  std::unique_ptr<Communicator> (*make_communicator)();
};

inline constexpr const char* kMpiPluginFile = "libseqtrain_mpi.so";
inline constexpr const char* kMpiPluginEntry = "seqtrain_mpi_plugin_api";

using MpiPlugin = Plugin<MpiPluginApi>;

// Loaded on the first call (never throws).
const MpiPlugin& mpi_plugin();

}  // namespace seqtrain
