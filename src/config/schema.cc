#include "config/schema.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <set>

#include "seqtrain/error.h"

namespace seqtrain {
namespace {

std::string_view parent_of(std::string_view path) {
  const std::size_t dot = path.rfind('.');
  return dot == std::string_view::npos ? std::string_view{} : path.substr(0, dot);
}

bool lies_under(std::string_view path, std::string_view section) {
  if (section.empty()) return true;
  return path.size() > section.size() && path.starts_with(section) && path[section.size()] == '.';
}

// Bounds print as plain numbers: "0", "0.5", "1e-08".
std::string format_bound(double value) {
  return fmt::format("{}", value);
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  return fmt::format("{}", fmt::join(items, separator));
}

// "[0, 1)", ">= 1", "> 0"; empty when unbounded.
std::string describe_range(const ConfigKey& key) {
  if (key.minimum && key.maximum) {
    return fmt::format("in {}{}, {}{}", key.minimum->inclusive ? '[' : '(',
                       format_bound(key.minimum->value), format_bound(key.maximum->value),
                       key.maximum->inclusive ? ']' : ')');
  }
  if (key.minimum)
    return fmt::format("{} {}", key.minimum->inclusive ? ">=" : ">",
                       format_bound(key.minimum->value));
  if (key.maximum)
    return fmt::format("{} {}", key.maximum->inclusive ? "<=" : "<",
                       format_bound(key.maximum->value));
  return {};
}

bool holds_type(const ConfigValue& value, ConfigType type) {
  switch (type) {
    case ConfigType::integer: return std::holds_alternative<std::int64_t>(value);
    case ConfigType::number: return std::holds_alternative<double>(value);
    case ConfigType::boolean: return std::holds_alternative<bool>(value);
    case ConfigType::string:
    case ConfigType::choice: return std::holds_alternative<std::string>(value);
    case ConfigType::number_list: return std::holds_alternative<std::vector<double>>(value);
    case ConfigType::record_list: return std::holds_alternative<std::vector<ConfigRecord>>(value);
  }
  return false;
}

// Every number a value holds, for range checks of defaults.
std::vector<double> numbers_of(const ConfigValue& value) {
  if (const auto* integer = std::get_if<std::int64_t>(&value))
    return {static_cast<double>(*integer)};
  if (const auto* number = std::get_if<double>(&value)) return {*number};
  if (const auto* list = std::get_if<std::vector<double>>(&value)) return *list;
  return {};
}

void check_default(const ConfigKey& key, const ConfigValue& value) {
  SEQTRAIN_CHECK(holds_type(value, key.type), "default of config key '{}' has the wrong type",
                 key.path);
  if (const auto* list = std::get_if<std::vector<double>>(&value))
    SEQTRAIN_CHECK(list->size() == key.list_length, "default of config key '{}' has {} elements",
                   key.path, list->size());
  for (double number : numbers_of(value)) {
    auto problem = range_problem(key, number);
    SEQTRAIN_CHECK(!problem, "default of config key '{}' is out of range: {}", key.path,
                   problem.value_or(""));
  }
  if (key.type == ConfigType::choice) {
    const std::string& choice = std::get<std::string>(value);
    SEQTRAIN_CHECK(std::find(key.choices.begin(), key.choices.end(), choice) != key.choices.end(),
                   "default of config key '{}' is not one of its choices", key.path);
  }
  if (const auto* records = std::get_if<std::vector<ConfigRecord>>(&value)) {
    for (const ConfigRecord& record : *records) {
      SEQTRAIN_CHECK(record.size() == key.record_fields.size(),
                     "default of config key '{}' has a record with {} fields", key.path,
                     record.size());
      for (std::size_t i = 0; i < record.size(); ++i) {
        SEQTRAIN_CHECK(record[i].first == key.record_fields[i].path,
                       "default of config key '{}' names field '{}' out of order", key.path,
                       record[i].first);
        SEQTRAIN_CHECK(!range_problem(key.record_fields[i], static_cast<double>(record[i].second)),
                       "default of config key '{}' has field '{}' out of range", key.path,
                       record[i].first);
      }
    }
  }
}

// Markdown cell text: a '|' would end the cell.
std::string markdown_cell(std::string text) {
  std::string escaped;
  for (char c : text) {
    if (c == '|') escaped += '\\';
    escaped += c;
  }
  return escaped;
}

}  // namespace

ConfigKey& ConfigKey::with_default(ConfigValue value) {
  default_value = std::move(value);
  return *this;
}
ConfigKey& ConfigKey::with_default_when(std::string path, std::string value,
                                        ConfigValue default_value) {
  return with_default_when({ConfigCondition{std::move(path), {std::move(value)}}},
                           std::move(default_value));
}
ConfigKey& ConfigKey::with_default_when(std::vector<ConfigCondition> conditions,
                                        ConfigValue default_value) {
  conditional_defaults.push_back(
      ConditionalDefault{std::move(conditions), std::move(default_value)});
  return *this;
}
ConfigKey& ConfigKey::only_when(std::string path, std::vector<std::string> values) {
  applies_when.push_back(ConfigCondition{std::move(path), std::move(values)});
  return *this;
}
ConfigKey& ConfigKey::required() {
  is_required = true;
  return *this;
}
ConfigKey& ConfigKey::with_derived_default(std::string description) {
  derived_default = std::move(description);
  return *this;
}
ConfigKey& ConfigKey::at_least(double bound) {
  minimum = ConfigBound{bound, true};
  return *this;
}
ConfigKey& ConfigKey::greater_than(double bound) {
  minimum = ConfigBound{bound, false};
  return *this;
}
ConfigKey& ConfigKey::at_most(double bound) {
  maximum = ConfigBound{bound, true};
  return *this;
}
ConfigKey& ConfigKey::less_than(double bound) {
  maximum = ConfigBound{bound, false};
  return *this;
}

ConfigKey& ConfigSchema::add(std::string path, ConfigType type, std::string doc) {
  ConfigKey& key = keys_.emplace_back();
  key.path = std::move(path);
  key.type = type;
  key.doc = std::move(doc);
  return key;
}
ConfigKey& ConfigSchema::add_integer(std::string path, std::string doc) {
  return add(std::move(path), ConfigType::integer, std::move(doc));
}
ConfigKey& ConfigSchema::add_number(std::string path, std::string doc) {
  return add(std::move(path), ConfigType::number, std::move(doc));
}
ConfigKey& ConfigSchema::add_boolean(std::string path, std::string doc) {
  return add(std::move(path), ConfigType::boolean, std::move(doc));
}
ConfigKey& ConfigSchema::add_string(std::string path, std::string doc) {
  return add(std::move(path), ConfigType::string, std::move(doc));
}
ConfigKey& ConfigSchema::add_choice(std::string path, std::vector<std::string> choices,
                                    std::string doc) {
  ConfigKey& key = add(std::move(path), ConfigType::choice, std::move(doc));
  key.choices = std::move(choices);
  return key;
}
ConfigKey& ConfigSchema::add_number_list(std::string path, std::size_t length, std::string doc) {
  ConfigKey& key = add(std::move(path), ConfigType::number_list, std::move(doc));
  key.list_length = length;
  return key;
}
ConfigKey& ConfigSchema::add_record_list(std::string path, std::vector<ConfigKey> fields,
                                         std::string doc) {
  ConfigKey& key = add(std::move(path), ConfigType::record_list, std::move(doc));
  key.record_fields = std::move(fields);
  return key;
}

bool condition_holds(const ConfigCondition& condition,
                     const std::map<std::string, ConfigValue, std::less<>>& values) {
  auto found = values.find(condition.path);
  if (found == values.end()) return false;
  const auto* text = std::get_if<std::string>(&found->second);
  return text != nullptr && std::find(condition.values.begin(), condition.values.end(), *text) !=
                                condition.values.end();
}

bool conditions_hold(const std::vector<ConfigCondition>& conditions,
                     const std::map<std::string, ConfigValue, std::less<>>& values) {
  return std::all_of(conditions.begin(), conditions.end(), [&](const ConfigCondition& condition) {
    return condition_holds(condition, values);
  });
}

std::vector<ConfigCondition> failing_conditions(
    const std::vector<ConfigCondition>& conditions,
    const std::map<std::string, ConfigValue, std::less<>>& values) {
  std::vector<ConfigCondition> failing;
  for (const ConfigCondition& condition : conditions)
    if (!condition_holds(condition, values)) failing.push_back(condition);
  return failing;
}

bool ConfigSchema::applies(const ConfigKey& key,
                           const std::map<std::string, ConfigValue, std::less<>>& values) const {
  return conditions_hold(key.applies_when, values);
}

bool ConfigSchema::section_applies(
    std::string_view section, const std::map<std::string, ConfigValue, std::less<>>& values) const {
  for (const ConfigKey& key : keys_)
    if (lies_under(key.path, section) && applies(key, values)) return true;
  return false;
}

const ConfigKey* ConfigSchema::find(std::string_view path) const {
  for (const ConfigKey& key : keys_)
    if (key.path == path) return &key;
  return nullptr;
}

bool ConfigSchema::is_section(std::string_view path) const {
  for (const ConfigKey& key : keys_)
    if (lies_under(key.path, path)) return true;
  return false;
}

std::vector<std::string> ConfigSchema::children(std::string_view section) const {
  std::vector<std::string> names;
  const std::size_t start = section.empty() ? 0 : section.size() + 1;
  for (const ConfigKey& key : keys_) {
    if (!lies_under(key.path, section)) continue;
    std::string_view rest = std::string_view(key.path).substr(start);
    std::string name(rest.substr(0, rest.find('.')));
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  return names;
}

void ConfigSchema::check_consistency() const {
  std::set<std::string_view> paths;
  for (const ConfigKey& key : keys_) {
    SEQTRAIN_CHECK(paths.insert(key.path).second, "config key '{}' is declared twice", key.path);
    SEQTRAIN_CHECK(!key.path.empty() && !key.path.starts_with('.') && !key.path.ends_with('.') &&
                       key.path.find("..") == std::string::npos,
                   "config key '{}' is not a dotted path", key.path);
    SEQTRAIN_CHECK(!is_section(key.path), "config key '{}' is also a section", key.path);
    SEQTRAIN_CHECK(!key.doc.empty(), "config key '{}' has no doc", key.path);
    SEQTRAIN_CHECK(!(key.is_required && key.default_value),
                   "config key '{}' is required but has a default", key.path);
    SEQTRAIN_CHECK(key.type != ConfigType::choice || !key.choices.empty(),
                   "config key '{}' has no choices", key.path);
    SEQTRAIN_CHECK(key.type != ConfigType::number_list || key.list_length > 0,
                   "config key '{}' has no list length", key.path);
    SEQTRAIN_CHECK(key.type != ConfigType::record_list || !key.record_fields.empty(),
                   "config key '{}' has no record fields", key.path);
    for (const ConfigKey& field : key.record_fields)
      SEQTRAIN_CHECK(field.type == ConfigType::integer && !field.path.empty() && !field.doc.empty(),
                     "record field '{}' of config key '{}' is not a documented integer", field.path,
                     key.path);
    std::vector<const std::vector<ConfigCondition>*> condition_lists{&key.applies_when};
    for (const ConditionalDefault& conditional : key.conditional_defaults) {
      SEQTRAIN_CHECK(!conditional.conditions.empty(),
                     "config key '{}' has a conditional default without a condition", key.path);
      condition_lists.push_back(&conditional.conditions);
      check_default(key, conditional.value);
    }
    for (const std::vector<ConfigCondition>* conditions : condition_lists) {
      std::set<std::string_view> condition_paths;
      for (const ConfigCondition& condition : *conditions) {
        // Two conditions on one key would read as "task is a, and task is b":
        // list every accepted value in one condition instead.
        SEQTRAIN_CHECK(condition_paths.insert(condition.path).second,
                       "config key '{}' has two conditions on '{}'", key.path, condition.path);
        const ConfigKey* on = find(condition.path);
        SEQTRAIN_CHECK(on != nullptr && on->type == ConfigType::choice && on != &key &&
                           paths.contains(on->path),
                       "config key '{}' has a condition on '{}', which is not a choice key "
                       "declared before it",
                       key.path, condition.path);
        SEQTRAIN_CHECK(!condition.values.empty(),
                       "config key '{}' has a condition on '{}' without values", key.path,
                       condition.path);
        for (const std::string& value : condition.values)
          SEQTRAIN_CHECK(
              std::find(on->choices.begin(), on->choices.end(), value) != on->choices.end(),
              "config key '{}' has a condition on '{}' being '{}', not one of its choices",
              key.path, condition.path, value);
      }
    }
    if (key.default_value) check_default(key, *key.default_value);
  }
}

std::string describe_accepted(const ConfigKey& key) {
  const std::string range = describe_range(key);
  const std::string suffix = range.empty() ? "" : " " + range;
  switch (key.type) {
    case ConfigType::integer: return "an integer" + suffix;
    case ConfigType::number: return "a number" + suffix;
    case ConfigType::boolean: return "true or false";
    case ConfigType::string: return "a non-empty string";
    case ConfigType::choice: return "one of " + join(key.choices, ", ");
    case ConfigType::number_list:
      return fmt::format("a list of {} number{}{}", key.list_length,
                         key.list_length == 1 ? "" : "s", range.empty() ? "" : ", each " + range);
    case ConfigType::record_list: {
      std::vector<std::string> fields;
      for (const ConfigKey& field : key.record_fields)
        fields.push_back(fmt::format("{}: {}", field.path, describe_accepted(field)));
      return fmt::format("a non-empty list of {{{}}}", join(fields, ", "));
    }
  }
  return {};
}

std::string describe_condition(const ConfigCondition& condition) {
  std::string values;
  for (std::size_t i = 0; i < condition.values.size(); ++i) {
    if (i > 0) values += i + 1 == condition.values.size() ? " or " : ", ";
    values += condition.values[i];
  }
  return fmt::format("{} is {}", condition.path, values);
}

std::string describe_conditions(const std::vector<ConfigCondition>& conditions) {
  // ", and " between conditions, since each may already list values with "or".
  std::string text;
  for (std::size_t i = 0; i < conditions.size(); ++i) {
    if (i > 0) text += i + 1 == conditions.size() ? ", and " : ", ";
    text += describe_condition(conditions[i]);
  }
  return text;
}

std::optional<std::string> range_problem(const ConfigKey& key, double value) {
  const bool below = key.minimum && (key.minimum->inclusive ? value < key.minimum->value
                                                            : value <= key.minimum->value);
  const bool above = key.maximum && (key.maximum->inclusive ? value > key.maximum->value
                                                            : value >= key.maximum->value);
  if (!below && !above) return std::nullopt;
  return "must be " + describe_range(key);
}

std::optional<ConfigValue> effective_default(
    const ConfigKey& key, const std::map<std::string, ConfigValue, std::less<>>& values) {
  for (const ConditionalDefault& conditional : key.conditional_defaults)
    if (conditions_hold(conditional.conditions, values)) return conditional.value;
  return key.default_value;
}

std::string format_config_value(const ConfigValue& value) {
  struct Formatter {
    std::string operator()(std::int64_t integer) const { return fmt::format("{}", integer); }
    std::string operator()(double number) const {
      // Shortest text that reads back to the same double, with a '.' added where
      // fmt leaves none ("1e-08" -> "1.0e-08", "1000" -> "1000.0").
      std::string text = fmt::format("{}", number);
      if (text.find_first_of(".ni") != std::string::npos) return text;  // has '.', inf, nan
      const std::size_t exponent = text.find('e');
      if (exponent == std::string::npos) return text + ".0";
      return text.insert(exponent, ".0");
    }
    std::string operator()(bool boolean) const { return boolean ? "true" : "false"; }
    std::string operator()(const std::string& text) const { return text; }
    std::string operator()(const std::vector<double>& list) const {
      std::vector<std::string> items;
      for (double number : list) items.push_back((*this)(number));
      return "[" + join(items, ", ") + "]";
    }
    std::string operator()(const std::vector<ConfigRecord>& records) const {
      std::vector<std::string> items;
      for (const ConfigRecord& record : records) {
        std::vector<std::string> fields;
        for (const auto& [name, value] : record)
          fields.push_back(fmt::format("{}: {}", name, value));
        items.push_back("{" + join(fields, ", ") + "}");
      }
      return "[" + join(items, ", ") + "]";
    }
  };
  return std::visit(Formatter{}, value);
}

std::string schema_reference_markdown(const ConfigSchema& schema) {
  // One table per section, sections in order of their first key.
  std::vector<std::string> sections;
  for (const ConfigKey& key : schema.keys()) {
    std::string section(parent_of(key.path));
    if (std::find(sections.begin(), sections.end(), section) == sections.end())
      sections.push_back(section);
  }
  std::string markdown;
  for (const std::string& section : sections) {
    if (!markdown.empty()) markdown += '\n';
    markdown += section.empty() ? "### Top level\n\n" : fmt::format("### `{}`\n\n", section);
    markdown += "| Key | Accepted | Default | Meaning |\n";
    markdown += "| --- | --- | --- | --- |\n";
    for (const ConfigKey& key : schema.keys()) {
      if (parent_of(key.path) != section) continue;
      std::string default_text = "not set";
      if (key.is_required) default_text = "**required**";
      if (!key.derived_default.empty()) default_text = "`" + key.derived_default + "`";
      if (key.default_value) default_text = "`" + format_config_value(*key.default_value) + "`";
      for (const ConditionalDefault& conditional : key.conditional_defaults)
        default_text += fmt::format("; when {}: `{}`", describe_conditions(conditional.conditions),
                                    format_config_value(conditional.value));
      std::string meaning = key.doc;
      if (!key.applies_when.empty())
        meaning = fmt::format("*Only when {}.* {}", describe_conditions(key.applies_when), meaning);
      markdown +=
          fmt::format("| `{}` | {} | {} | {} |\n", key.path, markdown_cell(describe_accepted(key)),
                      markdown_cell(default_text), markdown_cell(meaning));
    }
  }
  return markdown;
}

void ConfigValues::set(const std::string& path, std::optional<ConfigValue> value, std::string where,
                       bool given) {
  entries_[path] = Entry{std::move(value), std::move(where), given};
}

const ConfigValues::Entry& ConfigValues::entry(std::string_view path) const {
  auto found = entries_.find(path);
  SEQTRAIN_CHECK(found != entries_.end(), "config key '{}' was never read", path);
  return found->second;
}

const ConfigValue& ConfigValues::value(std::string_view path) const {
  const Entry& found = entry(path);
  SEQTRAIN_CHECK(found.value.has_value(), "config key '{}' is not set", path);
  return *found.value;
}

std::int64_t ConfigValues::integer(std::string_view path) const {
  const auto* integer = std::get_if<std::int64_t>(&value(path));
  SEQTRAIN_CHECK(integer != nullptr, "config key '{}' is not an integer", path);
  return *integer;
}
double ConfigValues::number(std::string_view path) const {
  const auto* number = std::get_if<double>(&value(path));
  SEQTRAIN_CHECK(number != nullptr, "config key '{}' is not a number", path);
  return *number;
}
bool ConfigValues::boolean(std::string_view path) const {
  const auto* boolean = std::get_if<bool>(&value(path));
  SEQTRAIN_CHECK(boolean != nullptr, "config key '{}' is not a boolean", path);
  return *boolean;
}
const std::string& ConfigValues::string(std::string_view path) const {
  const auto* text = std::get_if<std::string>(&value(path));
  SEQTRAIN_CHECK(text != nullptr, "config key '{}' is not a string", path);
  return *text;
}
const std::vector<double>& ConfigValues::number_list(std::string_view path) const {
  const auto* list = std::get_if<std::vector<double>>(&value(path));
  SEQTRAIN_CHECK(list != nullptr, "config key '{}' is not a number list", path);
  return *list;
}
const std::vector<ConfigRecord>& ConfigValues::record_list(std::string_view path) const {
  const auto* records = std::get_if<std::vector<ConfigRecord>>(&value(path));
  SEQTRAIN_CHECK(records != nullptr, "config key '{}' is not a record list", path);
  return *records;
}
std::optional<std::string> ConfigValues::optional_string(std::string_view path) const {
  if (!is_set(path)) return std::nullopt;
  return string(path);
}
bool ConfigValues::is_set(std::string_view path) const {
  return entry(path).value.has_value();
}
bool ConfigValues::is_given(std::string_view path) const {
  const Entry& found = entry(path);
  return found.given && found.value.has_value();
}
std::map<std::string, ConfigValue, std::less<>> ConfigValues::set_values() const {
  std::map<std::string, ConfigValue, std::less<>> values;
  for (const auto& [path, found] : entries_)
    if (found.value) values.emplace(path, *found.value);
  return values;
}

void ConfigValues::fail_at(std::string_view path, std::string_view problem) const {
  throw ConfigError(fmt::format("{}: {}", entry(path).where, problem));
}
void ConfigValues::fail(std::string_view problem) const {
  throw ConfigError(fmt::format("{}: {}", source_name_, problem));
}

}  // namespace seqtrain
