// Reading a config from YAML text plus `--set key.path=value` overrides against
// a ConfigSchema, and writing values back as YAML. Every mistake a user can make
// becomes one ConfigError line that names the full key path, the bad value and
// what is accepted, with a "did you mean" for misspelt keys and choices.
#pragma once

#include <map>
#include <span>
#include <string>
#include <string_view>

#include "config/schema.h"

namespace seqtrain {

// The whole text of a config file; ConfigError "<path>: missing file" and the like.
std::string read_config_file(const std::string& path);

// Parses text (named source_name in errors), applies the overrides in order
// (later ones win; each is "key.path=value" with value a YAML scalar, flow
// sequence or, for a section, flow map), checks types and ranges and fills in
// defaults. Missing required keys are errors; optional keys without a default
// may stay unset (also by writing null). Cross-field checks are the caller's.
ConfigValues read_config_yaml(const ConfigSchema& schema, std::string_view text,
                              const std::string& source_name,
                              std::span<const std::string> overrides);

// Every key of the schema as nested YAML in declaration order, each with its doc
// as a comment; keys missing from values are written as null (not set).
// read_config_yaml reads the result back to the same values.
std::string write_config_yaml(const ConfigSchema& schema,
                              const std::map<std::string, ConfigValue, std::less<>>& values,
                              std::string_view header_comment);

}  // namespace seqtrain
