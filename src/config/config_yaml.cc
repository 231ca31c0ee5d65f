#include "config/config_yaml.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "config/nearest_name.h"
#include "config/yaml_documents.h"
#include "data/utf8.h"
#include "io/read_file.h"
#include "seqtrain/error.h"

namespace seqtrain {
namespace {

std::string join_path(std::string_view section, std::string_view name) {
  if (section.empty()) return std::string(name);
  return fmt::format("{}.{}", section, name);
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> components;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = path.find('.', start);
    components.emplace_back(path.substr(start, dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return components;
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  return fmt::format("{}", fmt::join(items, separator));
}

std::string_view trim(std::string_view text) {
  const std::size_t first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const std::size_t last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

// A quoted scalar ('1000', "true") is a string to YAML; yaml-cpp marks it with the tag "!".
bool is_quoted(const YAML::Node& node) {
  return node.IsScalar() && node.Tag() == "!";
}

bool quotes_values(const ConfigKey* key) {
  return key != nullptr && (key->type == ConfigType::string || key->type == ConfigType::choice);
}

// One line of text for a node in a message: scalars as written (quoted where
// they are strings), maps and lists in flow style, cut short when long.
std::string shown_node(const YAML::Node& node, const ConfigKey* key) {
  if (!node.IsDefined() || node.IsNull()) return "null";
  std::string text;
  if (node.IsScalar()) {
    text = node.Scalar();
    if (is_quoted(node) || quotes_values(key)) text = "'" + text + "'";
  } else {
    YAML::Emitter emitter;
    emitter.SetMapFormat(YAML::Flow);
    emitter.SetSeqFormat(YAML::Flow);
    emitter << node;
    text = emitter.c_str();
  }
  for (char& c : text)
    if (c == '\n' || c == '\r') c = ' ';
  constexpr std::size_t kLongest = 60;
  if (text.size() > kLongest) text = text.substr(0, kLongest - 3) + "...";
  return text;
}

std::string shown_value(const ConfigValue& value, const ConfigKey& key) {
  const std::string text = format_config_value(value);
  return quotes_values(&key) ? "'" + text + "'" : text;
}

const char* node_kind(const YAML::Node& node) {
  if (node.IsMap()) return "a map";
  if (node.IsSequence()) return "a list";
  return "a single value";
}

std::optional<std::int64_t> parse_integer(std::string_view text) {
  if (text.starts_with('+')) text.remove_prefix(1);
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// Finite decimal numbers only: YAML's .inf and .nan make no sense in a config.
std::optional<double> parse_number(std::string_view text) {
  if (text.starts_with('+')) text.remove_prefix(1);
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size() || text.empty() ||
      !std::isfinite(value))
    return std::nullopt;
  return value;
}

std::optional<bool> parse_boolean(std::string_view text) {
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  return std::nullopt;
}

// Where a value came from, for the start of error messages.
struct Origin {
  std::string source;  // "configs/x.yaml" or "--set training.steps=abc"
  bool is_override = false;
  std::string override_path;
};

class ConfigReader {
 public:
  ConfigReader(const ConfigSchema& schema, const std::string& source_name)
      : schema_(schema), values_(source_name) {}

  void read_document(std::string_view text) {
    const Origin origin{.source = values_.source_name(), .is_override = false, .override_path = {}};
    std::vector<YAML::Node> documents;
    try {
      documents = load_yaml_documents(std::string(text));
    } catch (const YAML::ParserException& error) {
      fail(origin, fmt::format("not valid YAML at line {}, column {}: {}", error.mark.line + 1,
                               error.mark.column + 1, error.msg));
    } catch (const YAML::Exception& error) {
      fail(origin, fmt::format("not valid YAML: {}", error.what()));
    }
    if (documents.size() > 1)
      fail(origin, fmt::format("holds {} YAML documents; expected one", documents.size()));
    if (documents.empty() || documents.front().IsNull()) return;
    const YAML::Node& root = documents.front();
    if (!root.IsMap())
      fail(origin, fmt::format("expected a map of keys ({}) at the top level, found {}",
                               join(schema_.children(""), ", "), shown_node(root, nullptr)));
    read_section(root, "", origin);
  }

  void apply_override(const std::string& assignment) {
    const std::size_t equals = assignment.find('=');
    const std::string path(trim(std::string_view(assignment).substr(0, equals)));
    if (equals == std::string::npos || path.empty())
      throw ConfigError(fmt::format("--set '{}': expected key=value", assignment));
    // YAML reads an empty value as null, which would fall back to the default
    // without a word (--set run_dir= trained into the config's run_dir).
    if (trim(std::string_view(assignment).substr(equals + 1)).empty())
      throw ConfigError(fmt::format(
          "--set '{}': no value after '='; give one, or leave the --set out to keep the "
          "config's {}",
          assignment, path));
    const Origin origin{
        .source = "--set " + assignment, .is_override = true, .override_path = path};
    YAML::Node node;
    try {
      node = load_yaml_document(assignment.substr(equals + 1));
    } catch (const YAML::Exception& error) {
      fail(origin, fmt::format("the value is not valid YAML: {}", error.msg));
    }
    read_node(node, path, origin);
  }

  ConfigValues finish() {
    const std::string& source = values_.source_name();
    for (const ConfigKey& key : schema_.keys()) {
      if (values_.contains(key.path)) continue;
      const ConditionalDefault* conditional = nullptr;
      for (const ConditionalDefault& candidate : key.conditional_defaults) {
        if (conditions_hold(candidate.conditions, values_.set_values())) {
          conditional = &candidate;
          break;
        }
      }
      if (conditional != nullptr) {
        values_.set(key.path, conditional->value,
                    fmt::format("{}: {} = {} (the default when {})", source, key.path,
                                shown_value(conditional->value, key),
                                describe_conditions(conditional->conditions)),
                    /*given=*/false);
      } else if (key.default_value) {
        values_.set(key.path, key.default_value,
                    fmt::format("{}: {} = {} (the default)", source, key.path,
                                shown_value(*key.default_value, key)),
                    /*given=*/false);
      } else if (key.is_required) {
        throw ConfigError(fmt::format("{}: missing required key '{}': expected {}", source,
                                      key.path, describe_accepted(key)));
      } else {
        values_.set(key.path, std::nullopt, fmt::format("{}: {} (not set)", source, key.path),
                    /*given=*/false);
      }
    }
    // Keys given for another task (model.bert.layers in a charlm config) are
    // mistakes, not silently ignored settings.
    const std::map<std::string, ConfigValue, std::less<>> set = values_.set_values();
    for (const ConfigKey& key : schema_.keys()) {
      if (!values_.is_given(key.path) || schema_.applies(key, set)) continue;
      // All the key's conditions, then the value of each one that fails.
      std::vector<std::string> failing;
      for (const ConfigCondition& condition : failing_conditions(key.applies_when, set)) {
        const auto condition_value = set.find(condition.path);
        failing.push_back(fmt::format("{} is {}", condition.path,
                                      condition_value == set.end()
                                          ? "not set"
                                          : format_config_value(condition_value->second)));
      }
      values_.fail_at(key.path,
                      fmt::format("applies only when {} ({} here); remove it",
                                  describe_conditions(key.applies_when), join(failing, " and ")));
    }
    return std::move(values_);
  }

 private:
  [[noreturn]] static void fail(const Origin& origin, std::string_view problem) {
    throw ConfigError(fmt::format("{}: {}", origin.source, problem));
  }

  // "x.yaml: model.layers = 0", or for the key an override names just "--set model.layers=0".
  static std::string where(const Origin& origin, const std::string& path,
                           const std::string& shown) {
    if (origin.is_override && path == origin.override_path) return origin.source;
    return fmt::format("{}: {} = {}", origin.source, path, shown);
  }

  void read_node(const YAML::Node& node, const std::string& path, const Origin& origin) {
    if (const ConfigKey* key = schema_.find(path)) {
      if (!origin.is_override && !keys_in_file_.insert(path).second)
        fail(origin, fmt::format("duplicate key '{}'", path));
      read_value(node, *key, origin);
    } else if (schema_.is_section(path)) {
      read_section(node, path, origin);
    } else {
      fail(origin, unknown_key_problem(path));
    }
  }

  void read_section(const YAML::Node& node, const std::string& section, const Origin& origin) {
    if (node.IsNull()) return;  // "model:" with every key commented out
    if (!node.IsMap())
      throw ConfigError(fmt::format("{}: expected a section with keys {}",
                                    where(origin, section, shown_node(node, nullptr)),
                                    join(schema_.children(section), ", ")));
    std::set<std::string> names;
    for (const auto& entry : node) {
      const YAML::Node& name = entry.first;
      if (!name.IsScalar() || name.Scalar().empty())
        fail(origin, fmt::format("keys must be plain names; found {} as a key in {}",
                                 shown_node(name, nullptr),
                                 section.empty() ? "the top level" : "'" + section + "'"));
      const std::string path = join_path(section, name.Scalar());
      if (!names.insert(name.Scalar()).second)
        fail(origin, fmt::format("duplicate key '{}'", path));
      read_node(entry.second, path, origin);
    }
  }

  void read_value(const YAML::Node& node, const ConfigKey& key, const Origin& origin) {
    const std::string place = where(origin, key.path, shown_node(node, &key));
    auto reject = [&](std::string_view problem) {
      throw ConfigError(fmt::format("{}: {}", place, problem));
    };
    const std::string expected = "expected " + describe_accepted(key);
    if (node.IsNull()) {
      if (!key.is_required && !key.default_value) {  // null: explicitly not set
        values_.set(key.path, std::nullopt, place);
        return;
      }
      if (key.default_value)
        reject(fmt::format("{} (leave the key out for the default, {})", expected,
                           shown_value(*key.default_value, key)));
      reject(expected);
    }
    if (key.type == ConfigType::number_list) {
      values_.set(key.path, read_number_list(node, key, reject), place);
      return;
    }
    if (key.type == ConfigType::record_list) {
      values_.set(key.path, read_record_list(node, key, reject), place);
      return;
    }
    if (!node.IsScalar()) reject(fmt::format("{}, not {}", expected, node_kind(node)));
    const std::string& text = node.Scalar();
    const bool typed_as_string = is_quoted(node);
    auto check_range = [&](double value) {
      if (auto problem = range_problem(key, value)) reject(*problem);
    };
    switch (key.type) {
      case ConfigType::integer: {
        auto value = parse_integer(text);
        if (!value || typed_as_string)
          reject(typed_as_string && value ? expected + " (remove the quotes)" : expected);
        check_range(static_cast<double>(*value));
        values_.set(key.path, *value, place);
        return;
      }
      case ConfigType::number: {
        auto value = parse_number(text);
        if (!value || typed_as_string)
          reject(typed_as_string && value ? expected + " (remove the quotes)" : expected);
        check_range(*value);
        values_.set(key.path, *value, place);
        return;
      }
      case ConfigType::boolean: {
        auto value = parse_boolean(text);
        if (!value || typed_as_string)
          reject(typed_as_string && value ? expected + " (remove the quotes)" : expected);
        values_.set(key.path, *value, place);
        return;
      }
      case ConfigType::string:
        if (text.empty()) reject(expected);
        // The resolved config is written back as YAML, which holds only UTF-8:
        // other bytes would come back as another value when a run resumes.
        try {
          decode_utf8(text, key.path);
        } catch (const DataError&) {
          reject(expected + " in UTF-8 (the run's config.yaml keeps only UTF-8 text)");
        }
        values_.set(key.path, text, place);
        return;
      case ConfigType::choice: {
        if (std::find(key.choices.begin(), key.choices.end(), text) == key.choices.end()) {
          auto suggestion = nearest_name(text, key.choices);
          reject(suggestion ? fmt::format("{} (did you mean '{}'?)", expected, *suggestion)
                            : expected);
        }
        values_.set(key.path, text, place);
        return;
      }
      case ConfigType::number_list:
      case ConfigType::record_list: break;  // handled above
    }
  }

  // A list of maps, each with exactly the key's fields, each an integer in range.
  template <class Reject>
  static std::vector<ConfigRecord> read_record_list(const YAML::Node& node, const ConfigKey& key,
                                                    const Reject& reject) {
    const std::string expected = "expected " + describe_accepted(key);
    if (!node.IsSequence()) reject(fmt::format("{}, not {}", expected, node_kind(node)));
    if (node.size() == 0) reject(fmt::format("{}, not an empty list", expected));
    std::vector<std::string> field_names;
    for (const ConfigKey& field : key.record_fields) field_names.push_back(field.path);
    std::vector<ConfigRecord> records;
    for (std::size_t i = 0; i < node.size(); ++i) {
      const YAML::Node element = node[i];
      const std::string place = fmt::format("element {}", i + 1);
      if (!element.IsMap())
        reject(fmt::format("{}; {} is {}, not a map", expected, place, node_kind(element)));
      for (const auto& entry : element) {
        const std::string name = entry.first.IsScalar() ? entry.first.Scalar() : "";
        if (std::find(field_names.begin(), field_names.end(), name) != field_names.end()) continue;
        auto suggestion = nearest_name(name, field_names);
        reject(fmt::format("{} has unknown field '{}' ({})", place, name,
                           suggestion ? fmt::format("did you mean '{}'?", *suggestion)
                                      : "fields are " + join(field_names, ", ")));
      }
      ConfigRecord record;
      for (const ConfigKey& field : key.record_fields) {
        const YAML::Node value = element[field.path];
        if (!value) reject(fmt::format("{} has no field '{}' ({})", place, field.path, field.doc));
        std::optional<std::int64_t> parsed;
        if (value.IsScalar() && !is_quoted(value)) parsed = parse_integer(value.Scalar());
        if (!parsed)
          reject(fmt::format("{}: {} is {}, expected {}", place, field.path,
                             shown_node(value, nullptr), describe_accepted(field)));
        if (auto problem = range_problem(field, static_cast<double>(*parsed)))
          reject(fmt::format("{}: {} {}", place, field.path, *problem));
        record.emplace_back(field.path, *parsed);
      }
      records.push_back(std::move(record));
    }
    return records;
  }

  template <class Reject>
  static std::vector<double> read_number_list(const YAML::Node& node, const ConfigKey& key,
                                              const Reject& reject) {
    const std::string expected = "expected " + describe_accepted(key);
    if (!node.IsSequence()) reject(fmt::format("{}, not {}", expected, node_kind(node)));
    if (node.size() != key.list_length)
      reject(
          fmt::format("{}, not {} element{}", expected, node.size(), node.size() == 1 ? "" : "s"));
    std::vector<double> list;
    for (std::size_t i = 0; i < node.size(); ++i) {
      const YAML::Node element = node[i];
      std::optional<double> value;
      if (element.IsScalar() && !is_quoted(element)) value = parse_number(element.Scalar());
      if (!value)
        reject(fmt::format("{}; element {} ({}) is not a number", expected, i + 1,
                           shown_node(element, nullptr)));
      if (auto problem = range_problem(key, *value))
        reject(fmt::format("each element {}; element {} is {}", *problem, i + 1, element.Scalar()));
      list.push_back(*value);
    }
    return list;
  }

  // "unknown key 'training.optimiser' (did you mean 'training.optimizer'?)", or
  // when nothing is close, the keys the enclosing section accepts.
  std::string unknown_key_problem(const std::string& path) const {
    const std::vector<std::string> components = split_path(path);
    // The longest known section the path starts with; components[first_unknown] is the typo.
    std::string section;
    std::size_t first_unknown = 0;
    while (first_unknown + 1 < components.size() &&
           schema_.is_section(join_path(section, components[first_unknown]))) {
      section = join_path(section, components[first_unknown]);
      ++first_unknown;
    }
    const std::vector<std::string> names = schema_.children(section);
    std::optional<std::string> suggestion;
    if (auto near = nearest_name(components[first_unknown], names)) {
      const std::string corrected = join_path(section, *near);
      std::vector<std::string> rest(
          components.begin() + static_cast<std::ptrdiff_t>(first_unknown) + 1, components.end());
      const std::string whole = rest.empty() ? corrected : corrected + "." + join(rest, ".");
      suggestion = schema_.find(whole) || schema_.is_section(whole) ? whole : corrected;
    } else {
      // The right name in the wrong section: "training.learning_rate".
      for (const ConfigKey& key : schema_.keys()) {
        if (split_path(key.path).back() == components.back()) {
          suggestion = key.path;
          break;
        }
      }
    }
    if (suggestion && *suggestion != path)
      return fmt::format("unknown key '{}' (did you mean '{}'?)", path, *suggestion);
    return fmt::format("unknown key '{}' ({} accepts {})", path,
                       section.empty() ? "the top level" : "'" + section + "'", join(names, ", "));
  }

  const ConfigSchema& schema_;
  ConfigValues values_;
  std::set<std::string> keys_in_file_;  // each key once per file, however it is nested
};

void write_section(YAML::Emitter& out, const ConfigSchema& schema, const std::string& section,
                   const std::map<std::string, ConfigValue, std::less<>>& values) {
  for (const std::string& name : schema.children(section)) {
    const std::string path = join_path(section, name);
    const ConfigKey* key = schema.find(path);
    if (key == nullptr) {
      if (!schema.section_applies(path, values)) continue;
      out << YAML::Key << name << YAML::Value << YAML::BeginMap;
      write_section(out, schema, path, values);
      out << YAML::EndMap;
      continue;
    }
    if (!schema.applies(*key, values)) continue;  // another task's key
    out << YAML::Key << name << YAML::Value;
    auto found = values.find(path);
    if (found == values.end()) {
      out << YAML::Null;
    } else if (const auto* records = std::get_if<std::vector<ConfigRecord>>(&found->second)) {
      out << YAML::BeginSeq;
      for (const ConfigRecord& record : *records) {
        out << YAML::Flow << YAML::BeginMap;
        for (const auto& [field, value] : record) out << YAML::Key << field << YAML::Value << value;
        out << YAML::EndMap;
      }
      out << YAML::EndSeq;
    } else if (const auto* list = std::get_if<std::vector<double>>(&found->second)) {
      out << YAML::Flow << YAML::BeginSeq;
      for (double number : *list) out << format_config_value(number);
      out << YAML::EndSeq;
    } else if (key->type == ConfigType::string) {
      // Quoted, so a path such as "null", "true" or "123" stays a string.
      out << YAML::DoubleQuoted << std::get<std::string>(found->second);
    } else {
      out << format_config_value(found->second);
    }
    out << YAML::Comment(key->doc);
  }
}

}  // namespace

std::string read_config_file(const std::string& path) {
  std::error_code error;
  if (!std::filesystem::exists(path, error))
    throw ConfigError(fmt::format("{}: missing file", path));
  if (std::filesystem::is_directory(path, error))
    throw ConfigError(fmt::format("{}: is a directory, expected a YAML file", path));
  // A regular file no larger than memory (a FIFO blocked forever): an IoError.
  return read_file(path, "config");
}

ConfigValues read_config_yaml(const ConfigSchema& schema, std::string_view text,
                              const std::string& source_name,
                              std::span<const std::string> overrides) {
  ConfigReader reader(schema, source_name);
  reader.read_document(text);
  for (const std::string& assignment : overrides) reader.apply_override(assignment);
  return reader.finish();
}

std::string write_config_yaml(const ConfigSchema& schema,
                              const std::map<std::string, ConfigValue, std::less<>>& values,
                              std::string_view header_comment) {
  std::string text;
  std::istringstream header{std::string(header_comment)};
  for (std::string line; std::getline(header, line);)
    text += line.empty() ? "#\n" : "# " + line + "\n";
  YAML::Emitter out;
  out << YAML::BeginMap;
  write_section(out, schema, "", values);
  out << YAML::EndMap;
  SEQTRAIN_CHECK(out.good(), "writing config YAML failed: {}", out.GetLastError());
  return text + out.c_str() + "\n";
}

}  // namespace seqtrain
