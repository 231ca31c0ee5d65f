// A config schema declared once in code: every key path with its type, default
// (or "required"), accepted range or values and a one-line doc. The same table
// drives reading YAML (config_yaml.h), writing the effective config back out and
// the key reference in docs/configuration.md, so the three cannot disagree.
//
// This file is generic: it knows nothing of seqtrain's keys. run_config.cc holds
// seqtrain's table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace seqtrain {

enum class ConfigType { integer, number, boolean, string, choice, number_list };

// integer -> int64, number -> double, boolean -> bool, string and choice ->
// std::string, number_list -> std::vector<double>.
using ConfigValue = std::variant<std::int64_t, double, bool, std::string, std::vector<double>>;

struct ConfigBound {
  double value;
  bool inclusive;
};

// One key. Built fluently: schema.add_integer("training.steps",
// "...").with_default(1000).at_least(1).
struct ConfigKey {
  std::string path;  // "training.optimizer.learning_rate"
  ConfigType type = ConfigType::string;
  std::string doc;
  std::optional<ConfigValue> default_value;
  bool is_required = false;
  // Shown in the reference instead of the default when the default is derived
  // from other keys ("runs/<task>"); the key itself is then optional in YAML.
  std::string derived_default;
  std::optional<ConfigBound> minimum, maximum;  // integer, number and each list element
  std::vector<std::string> choices;             // choice
  std::size_t list_length = 0;                  // number_list

  ConfigKey& with_default(ConfigValue value);
  ConfigKey& required();
  ConfigKey& with_derived_default(std::string description);
  ConfigKey& at_least(double bound);
  ConfigKey& greater_than(double bound);
  ConfigKey& at_most(double bound);
  ConfigKey& less_than(double bound);
};

class ConfigSchema {
 public:
  ConfigKey& add_integer(std::string path, std::string doc);
  ConfigKey& add_number(std::string path, std::string doc);
  ConfigKey& add_boolean(std::string path, std::string doc);
  ConfigKey& add_string(std::string path, std::string doc);
  ConfigKey& add_choice(std::string path, std::vector<std::string> choices, std::string doc);
  ConfigKey& add_number_list(std::string path, std::size_t length, std::string doc);

  // Declaration order, which is also the order of the reference and of written YAML.
  const std::deque<ConfigKey>& keys() const { return keys_; }
  const ConfigKey* find(std::string_view path) const;
  // A section is a path that some key lies under ("training.optimizer"); "" is the top level.
  bool is_section(std::string_view path) const;
  // Names directly under a section, keys and subsections, in declaration order.
  std::vector<std::string> children(std::string_view section) const;

  // Internal check that the table is well formed: unique paths, no key that is
  // also a section, defaults of the right type that pass their own checks.
  void check_consistency() const;

 private:
  ConfigKey& add(std::string path, ConfigType type, std::string doc);
  std::deque<ConfigKey> keys_;  // a deque: references returned by add stay valid
};

// "an integer >= 1", "a number in (0, 0.5]", "one of lstm, gru, rnn", ...
std::string describe_accepted(const ConfigKey& key);
// Why value is outside key's range ("must be > 0"), or nothing if it is inside.
std::optional<std::string> range_problem(const ConfigKey& key, double value);
// Canonical text of a value, as YAML would read it back: numbers always carry a
// '.' so other YAML readers see floats ("1.0e-08", "0.0"); lists as "[0.9, 0.999]".
std::string format_config_value(const ConfigValue& value);

// Markdown tables of every key (one per section) for docs/configuration.md.
std::string schema_reference_markdown(const ConfigSchema& schema);

// The values of one config after reading and validation, with where each came
// from so later (cross-field) checks can report errors the same way.
class ConfigValues {
 public:
  explicit ConfigValues(std::string source_name) : source_name_(std::move(source_name)) {}

  // where: how errors about this key start ("x.yaml: model.layers = 2", "--set model.layers=2").
  void set(const std::string& path, std::optional<ConfigValue> value, std::string where);
  bool contains(std::string_view path) const { return entries_.find(path) != entries_.end(); }

  std::int64_t integer(std::string_view path) const;
  double number(std::string_view path) const;
  bool boolean(std::string_view path) const;
  const std::string& string(std::string_view path) const;  // string and choice keys
  const std::vector<double>& number_list(std::string_view path) const;
  // Keys that are optional without a default: nothing when unset.
  std::optional<std::string> optional_string(std::string_view path) const;
  bool is_set(std::string_view path) const;

  const std::string& source_name() const { return source_name_; }
  // ConfigError "<where path's value came from>: <problem>".
  [[noreturn]] void fail_at(std::string_view path, std::string_view problem) const;
  // ConfigError "<source name>: <problem>", for problems no single value owns.
  [[noreturn]] void fail(std::string_view problem) const;

 private:
  struct Entry {
    std::optional<ConfigValue> value;
    std::string where;
  };
  const Entry& entry(std::string_view path) const;
  const ConfigValue& value(std::string_view path) const;

  std::string source_name_;
  std::map<std::string, Entry, std::less<>> entries_;
};

}  // namespace seqtrain
