// A config schema declared once in code: every key path with its type, default
// (or "required"), accepted range or values and a one-line doc. The same table
// drives reading YAML (config_yaml.h), writing the effective config back out and
// the key reference in docs/configuration.md, so the three cannot disagree.
//
// This file is generic: it knows nothing of seqtrain's keys. run_config_keys.cc
// holds seqtrain's table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace seqtrain {

enum class ConfigType { integer, number, boolean, string, choice, number_list, record_list };

// One element of a record_list value: its integer fields by name, in the
// order the key declares them ({steps: 900, sequence_length: 128}).
using ConfigRecord = std::vector<std::pair<std::string, std::int64_t>>;

// integer -> int64, number -> double, boolean -> bool, string and choice ->
// std::string, number_list -> std::vector<double>, record_list ->
// std::vector<ConfigRecord>.
using ConfigValue = std::variant<std::int64_t, double, bool, std::string, std::vector<double>,
                                 std::vector<ConfigRecord>>;

struct ConfigBound {
  double value;
  bool inclusive;
};

// "key `path` has one of `values`": when a key applies, or when a default does.
struct ConfigCondition {
  std::string path;  // a choice key declared earlier ("task")
  std::vector<std::string> values;

  bool operator==(const ConfigCondition&) const = default;
};

// A default that holds when every one of its conditions does.
struct ConditionalDefault {
  std::vector<ConfigCondition> conditions;
  ConfigValue value;
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
  // record_list: the fields every record must have, each an integer key whose
  // path is the field name (with its own range and doc). The list may not be empty.
  std::vector<ConfigKey> record_fields;
  // The key applies only when all of these conditions hold (always when there
  // are none): a config that gives it otherwise is an error, and written
  // configs leave it out. One condition per key path, so each reads as
  // "task is ..." and a key can depend on the task and the model type at once.
  std::vector<ConfigCondition> applies_when;
  // Defaults that replace default_value under their conditions (the first that holds).
  std::vector<ConditionalDefault> conditional_defaults;

  ConfigKey& with_default(ConfigValue value);
  // The default when `path` has the value `value` (default_value otherwise).
  ConfigKey& with_default_when(std::string path, std::string value, ConfigValue default_value);
  // The default when every one of conditions holds.
  ConfigKey& with_default_when(std::vector<ConfigCondition> conditions, ConfigValue default_value);
  ConfigKey& required();
  ConfigKey& with_derived_default(std::string description);
  ConfigKey& at_least(double bound);
  ConfigKey& greater_than(double bound);
  ConfigKey& at_most(double bound);
  ConfigKey& less_than(double bound);
  // The key applies only when `path` has one of `values`. Called again with
  // another path, it adds a condition that must hold as well:
  // .only_when("task", {"charlm"}).only_when("model.type", {"lstm", "gru"}).
  ConfigKey& only_when(std::string path, std::vector<std::string> values);
};

class ConfigSchema {
 public:
  ConfigKey& add_integer(std::string path, std::string doc);
  ConfigKey& add_number(std::string path, std::string doc);
  ConfigKey& add_boolean(std::string path, std::string doc);
  ConfigKey& add_string(std::string path, std::string doc);
  ConfigKey& add_choice(std::string path, std::vector<std::string> choices, std::string doc);
  ConfigKey& add_number_list(std::string path, std::size_t length, std::string doc);
  // A list of records with integer fields (each field declared as
  // ConfigKey{.path = name, .type = integer, .doc, bounds}).
  ConfigKey& add_record_list(std::string path, std::vector<ConfigKey> fields, std::string doc);

  // Declaration order, which is also the order of the reference and of written YAML.
  const std::deque<ConfigKey>& keys() const { return keys_; }
  const ConfigKey* find(std::string_view path) const;
  // A section is a path that some key lies under ("training.optimizer"); "" is the top level.
  bool is_section(std::string_view path) const;
  // Names directly under a section, keys and subsections, in declaration order.
  std::vector<std::string> children(std::string_view section) const;

  // Whether key applies given the values read so far (all its conditions hold).
  // A section applies when any key under it does.
  bool applies(const ConfigKey& key,
               const std::map<std::string, ConfigValue, std::less<>>& values) const;
  bool section_applies(std::string_view section,
                       const std::map<std::string, ConfigValue, std::less<>>& values) const;

  // Internal check that the table is well formed: unique paths, no key that is
  // also a section, defaults of the right type that pass their own checks,
  // conditions on choice keys declared earlier naming their choices, at most
  // one condition per key path in each list of conditions.
  void check_consistency() const;

 private:
  ConfigKey& add(std::string path, ConfigType type, std::string doc);
  std::deque<ConfigKey> keys_;  // a deque: references returned by add stay valid
};

// key's default given the other values: the first conditional default whose
// conditions hold, else its plain default; nothing for a required key or one
// whose default is derived elsewhere.
std::optional<ConfigValue> effective_default(
    const ConfigKey& key, const std::map<std::string, ConfigValue, std::less<>>& values);

// "an integer >= 1", "a number in (0, 0.5]", "one of lstm, gru, rnn", ...
std::string describe_accepted(const ConfigKey& key);
// Why value is outside key's range ("must be > 0"), or nothing if it is inside.
std::optional<std::string> range_problem(const ConfigKey& key, double value);
// Whether condition's key has one of its values in values.
bool condition_holds(const ConfigCondition& condition,
                     const std::map<std::string, ConfigValue, std::less<>>& values);
// Whether every one of conditions holds (true for none).
bool conditions_hold(const std::vector<ConfigCondition>& conditions,
                     const std::map<std::string, ConfigValue, std::less<>>& values);
// The conditions that do not hold, in the order given.
std::vector<ConfigCondition> failing_conditions(
    const std::vector<ConfigCondition>& conditions,
    const std::map<std::string, ConfigValue, std::less<>>& values);
// "task is mlm", "task is charlm, adding or classification".
std::string describe_condition(const ConfigCondition& condition);
// All of conditions: "task is mlm", "task is charlm or adding, and model.type is lstm".
std::string describe_conditions(const std::vector<ConfigCondition>& conditions);
// Canonical text of a value, as YAML would read it back: numbers always carry a
// '.' so other YAML readers see floats ("1.0e-08", "0.0"); lists as "[0.9, 0.999]";
// records in flow style ("[{steps: 900, sequence_length: 128}]").
std::string format_config_value(const ConfigValue& value);

// Markdown tables of every key (one per section) for docs/configuration.md.
std::string schema_reference_markdown(const ConfigSchema& schema);

// The values of one config after reading and validation, with where each came
// from so later (cross-field) checks can report errors the same way.
class ConfigValues {
 public:
  explicit ConfigValues(std::string source_name) : source_name_(std::move(source_name)) {}

  // where: how errors about this key start ("x.yaml: model.layers = 2", "--set model.layers=2").
  // given: the file or an override set the key (false for defaults).
  void set(const std::string& path, std::optional<ConfigValue> value, std::string where,
           bool given = true);
  bool contains(std::string_view path) const { return entries_.find(path) != entries_.end(); }

  std::int64_t integer(std::string_view path) const;
  double number(std::string_view path) const;
  bool boolean(std::string_view path) const;
  const std::string& string(std::string_view path) const;  // string and choice keys
  const std::vector<double>& number_list(std::string_view path) const;
  const std::vector<ConfigRecord>& record_list(std::string_view path) const;
  // Keys that are optional without a default: nothing when unset.
  std::optional<std::string> optional_string(std::string_view path) const;
  bool is_set(std::string_view path) const;
  // Whether the file or an override gave the key (not a default).
  bool is_given(std::string_view path) const;
  // The values that are set, by path (for ConfigSchema::applies).
  std::map<std::string, ConfigValue, std::less<>> set_values() const;

  const std::string& source_name() const { return source_name_; }
  // ConfigError "<where path's value came from>: <problem>".
  [[noreturn]] void fail_at(std::string_view path, std::string_view problem) const;
  // ConfigError "<source name>: <problem>", for problems no single value owns.
  [[noreturn]] void fail(std::string_view problem) const;

 private:
  struct Entry {
    std::optional<ConfigValue> value;
    std::string where;
    bool given = true;
  };
  const Entry& entry(std::string_view path) const;
  const ConfigValue& value(std::string_view path) const;

  std::string source_name_;
  std::map<std::string, Entry, std::less<>> entries_;
};

}  // namespace seqtrain
