// The YAML run config with --set overrides (src/config): the main file is the
// YAML text, a "%%file set" file holds one override per line. A config that
// loads must come back equal from its resolved YAML (run_config.h promises
// "Loading it again gives an equal RunConfig"), and every accepted config
// holds the invariants the run relies on (checked below).
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "config/run_config.h"
#include "fuzz_input.h"
#include "seqtrain/error.h"

using namespace seqtrain;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::silence_logging();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::vector<fuzz::FuzzFile> files = fuzz::split_fuzz_input(data, size);
  std::vector<std::string> overrides;
  if (const std::string* set = fuzz::find_fuzz_file(files, "set")) {
    std::istringstream lines(*set);
    for (std::string line; std::getline(lines, line);) overrides.push_back(line);
  }
  RunConfig config;
  try {
    config = run_config_from_yaml_text(files.front().bytes, "fuzz.yaml", overrides);
  } catch (const Error& error) {
    fuzz::expected_error(error);
    return 0;  // bad input, reported as one line
  }
  const std::string resolved = resolved_yaml(config);
  RunConfig reloaded;
  try {
    reloaded = run_config_from_yaml_text(resolved, "resolved.yaml", {});
  } catch (const Error& error) {
    fuzz::report_finding("the resolved YAML of an accepted config does not load: " +
                         std::string(error.what()) + "\n" + resolved);
  }
  if (!(reloaded == config))
    fuzz::report_finding("the resolved YAML of an accepted config loads as another config:\n" +
                         resolved);
  return 0;
}
