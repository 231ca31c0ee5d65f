#include "config/run_config_values.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "config/run_config_binding.h"
#include "config/run_config_keys.h"
#include "config/schema.h"

namespace seqtrain {
namespace {

using ValueMap = std::map<std::string, ConfigValue, std::less<>>;

constexpr const char* kNotSet = "(not set)";

bool under(const std::string& path, const std::string& section) {
  return path == section || (path.size() > section.size() && path.starts_with(section) &&
                             path[section.size()] == '.');
}

std::string text_of(const ValueMap& values, const std::string& path) {
  const auto found = values.find(path);
  return found == values.end() ? kNotSet : format_config_value(found->second);
}

}  // namespace

ValueMap run_config_values(const RunConfig& config) {
  ValueMap values;
  for (const FieldBinding& binding : run_config_table().bindings())
    if (auto value = binding.write(config)) values.emplace(binding.path, std::move(*value));
  return values;
}

std::vector<ConfigRow> run_config_rows(const RunConfig& config) {
  const ValueMap values = run_config_values(config);
  const ConfigSchema& schema = run_config_schema();
  std::vector<ConfigRow> rows;
  for (const ConfigKey& key : schema.keys()) {
    if (!schema.applies(key, values)) continue;
    ConfigRow row{key.path, text_of(values, key.path), "(none)"};
    if (key.is_required) {
      row.default_value = "(required)";
    } else if (!key.derived_default.empty()) {
      row.default_value = key.derived_default;
    } else if (std::optional<ConfigValue> fallback = effective_default(key, values)) {
      row.default_value = format_config_value(*fallback);
    }
    // A required key has no default to differ from.
    row.is_default = key.is_required || row.value == row.default_value ||
                     (row.value == kNotSet && row.default_value == "(none)");
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string format_config_rows(const std::vector<ConfigRow>& rows) {
  std::size_t key_width = 3, value_width = 5;
  for (const ConfigRow& row : rows) {
    key_width = std::max(key_width, row.path.size());
    value_width = std::max(value_width, row.value.size());
  }
  std::string text = fmt::format("  {:<{}}  {:<{}}  {}\n", "key", key_width, "value", value_width,
                                 "default");
  for (const ConfigRow& row : rows)
    text += fmt::format("{} {:<{}}  {:<{}}  {}\n", row.is_default ? ' ' : '*', row.path,
                        key_width, row.value, value_width, row.default_value);
  return text;
}

std::optional<ConfigDifference> first_difference(const RunConfig& before, const RunConfig& after,
                                                 const std::vector<std::string>& sections) {
  const ValueMap old_values = run_config_values(before), new_values = run_config_values(after);
  for (const ConfigKey& key : run_config_schema().keys()) {
    if (std::none_of(sections.begin(), sections.end(),
                     [&](const std::string& section) { return under(key.path, section); }))
      continue;
    const std::string was = text_of(old_values, key.path), is = text_of(new_values, key.path);
    if (was != is) return ConfigDifference{key.path, was, is};
  }
  return std::nullopt;
}

}  // namespace seqtrain
