// The Python scripts some subcommands run (plot: scripts/plot_runs.py;
// bench: scripts/plot_affinity.py), with the python3 on PATH
// ($SEQTRAIN_PYTHON names another).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace seqtrain {

// scripts/<name>: $<override_variable> when set, else a package's
// share/seqtrain/scripts/, else the source tree the binary was built from.
// An Error naming the places looked in when none has it.
std::filesystem::path find_script(const std::string& name, const char* override_variable);

// Runs the script with arguments; returns its exit status (a script says
// what went wrong in one line of its own).
int run_python_script(const std::filesystem::path& script,
                      const std::vector<std::string>& arguments);

}  // namespace seqtrain
