// A RunConfig as key -> value: the table `seqtrain config show` prints (every
// key that applies, its value and its default), and the first key in which two
// configs differ (what a resume that changes the model names).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/run_config.h"
#include "config/schema.h"

namespace seqtrain {

// The values of config's keys that have one (an unset optional key has none).
std::map<std::string, ConfigValue, std::less<>> run_config_values(const RunConfig& config);

struct ConfigRow {
  std::string path;           // "training.optimizer.learning_rate"
  std::string value;          // as YAML writes it; "(not set)" for an unset optional key
  std::string default_value;  // under the config's other values; "(required)", "(derived)", "(none)"
  bool is_default = false;    // the value is the default
};

// Every key that applies to config, in the reference's order.
std::vector<ConfigRow> run_config_rows(const RunConfig& config);

// The rows as an aligned table, keys that differ from their default marked "*".
std::string format_config_rows(const std::vector<ConfigRow>& rows);

struct ConfigDifference {
  std::string path;
  std::string before, after;  // as YAML writes them; "(not set)" when absent
};

// The first key, in the reference's order, under one of the sections
// ("model", "data"; "task" for the key itself) whose value differs.
std::optional<ConfigDifference> first_difference(const RunConfig& before, const RunConfig& after,
                                                 const std::vector<std::string>& sections);

}  // namespace seqtrain
