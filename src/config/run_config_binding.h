// The generic machinery that binds a YAML key to a RunConfig member: each
// declaration adds the key to the schema (type, default, range, doc,
// conditions) and, beside it, how the key's value is read into the member and
// written back out of it. Declaring both at once is what keeps the schema,
// the typed RunConfig and the resolved YAML in step. The keys themselves are
// declared in run_config_keys.cc.
//
// A Field is an accessor: a callable that takes a RunConfig (const or not) and
// returns a reference to the member, e.g. [](auto& config) -> auto& { return
// config.training.steps; }.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <functional>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "config/run_config.h"
#include "config/schema.h"

namespace seqtrain {

// How one key's value moves between ConfigValues and its RunConfig member.
struct FieldBinding {
  std::string path;
  std::function<void(const ConfigValues&, RunConfig&)> read;
  std::function<std::optional<ConfigValue>(const RunConfig&)> write;
};

// The schema plus the bindings, declared together key by key.
class RunConfigTable {
 public:
  template <class Field>
  ConfigKey& integer(std::string path, Field field, std::string doc) {
    bind(
        path,
        [field, path](const ConfigValues& values, RunConfig& config) {
          field(config) = values.integer(path);
        },
        [field](const RunConfig& config) -> std::optional<ConfigValue> { return field(config); });
    return schema_.add_integer(std::move(path), std::move(doc));
  }

  template <class Field>
  ConfigKey& number(std::string path, Field field, std::string doc) {
    bind(
        path,
        [field, path](const ConfigValues& values, RunConfig& config) {
          field(config) = values.number(path);
        },
        [field](const RunConfig& config) -> std::optional<ConfigValue> { return field(config); });
    return schema_.add_number(std::move(path), std::move(doc));
  }

  template <class Field>
  ConfigKey& boolean(std::string path, Field field, std::string doc) {
    bind(
        path,
        [field, path](const ConfigValues& values, RunConfig& config) {
          field(config) = values.boolean(path);
        },
        [field](const RunConfig& config) -> std::optional<ConfigValue> { return field(config); });
    return schema_.add_boolean(std::move(path), std::move(doc));
  }

  // A std::optional<std::string> member stays empty when the key is not set; a
  // std::string member keeps what the caller derives for it.
  template <class Field>
  ConfigKey& string(std::string path, Field field, std::string doc) {
    bind(
        path,
        [field, path](const ConfigValues& values, RunConfig& config) {
          if (values.is_set(path)) field(config) = values.string(path);
        },
        [field](const RunConfig& config) -> std::optional<ConfigValue> {
          const auto& member = field(config);
          if constexpr (std::is_same_v<std::decay_t<decltype(member)>, std::string>) {
            return member;
          } else {
            if (!member) return std::nullopt;
            return *member;
          }
        });
    return schema_.add_string(std::move(path), std::move(doc));
  }

  // An enum member whose values are named by names, the enum's name table (in
  // enum order).
  template <class Field, std::size_t count>
  ConfigKey& choice(std::string path, Field field, const char* const (&names)[count],
                    std::string doc) {
    std::array<std::string_view, count> name_views;
    std::copy(std::begin(names), std::end(names), name_views.begin());
    return choice(std::move(path), field, name_views, std::move(doc));
  }
  template <class Field, std::size_t count>
  ConfigKey& choice(std::string path, Field field, const std::array<std::string_view, count>& names,
                    std::string doc) {
    bind(
        path,
        [field, path, names](const ConfigValues& values, RunConfig& config) {
          const std::string& name = values.string(path);
          auto& member = field(config);
          for (std::size_t i = 0; i < count; ++i)
            if (names[i] == name) member = static_cast<std::decay_t<decltype(member)>>(i);
        },
        [field, names](const RunConfig& config) -> std::optional<ConfigValue> {
          return std::string(names[static_cast<std::size_t>(field(config))]);
        });
    return schema_.add_choice(std::move(path), std::vector<std::string>(names.begin(), names.end()),
                              std::move(doc));
  }

  // A std::array<double, N> member.
  template <class Field>
  ConfigKey& number_list(std::string path, Field field, std::string doc) {
    constexpr std::size_t length =
        std::tuple_size_v<std::decay_t<decltype(field(std::declval<RunConfig&>()))>>;
    bind(
        path,
        [field, path](const ConfigValues& values, RunConfig& config) {
          const std::vector<double>& list = values.number_list(path);
          std::copy(list.begin(), list.end(), field(config).begin());
        },
        [field](const RunConfig& config) -> std::optional<ConfigValue> {
          const auto& member = field(config);
          return std::vector<double>(member.begin(), member.end());
        });
    return schema_.add_number_list(std::move(path), length, std::move(doc));
  }

  // The data.phases list: a std::vector<MlmPhaseConfig> member, empty when unset.
  template <class Field>
  ConfigKey& phase_list(std::string path, Field field, std::string doc) {
    bind(
        path,
        [field, path](const ConfigValues& values, RunConfig& config) {
          field(config).clear();
          if (!values.is_set(path)) return;
          for (const ConfigRecord& record : values.record_list(path)) {
            MlmPhaseConfig phase;
            for (const auto& [name, value] : record) {
              if (name == "steps") phase.steps = value;
              if (name == "sequence_length") phase.sequence_length = value;
              if (name == "batch_size") phase.batch_size = value;
            }
            field(config).push_back(phase);
          }
        },
        [field](const RunConfig& config) -> std::optional<ConfigValue> {
          if (field(config).empty()) return std::nullopt;
          std::vector<ConfigRecord> records;
          for (const MlmPhaseConfig& phase : field(config))
            records.push_back({{"steps", phase.steps},
                               {"sequence_length", phase.sequence_length},
                               {"batch_size", phase.batch_size}});
          return records;
        });
    return schema_.add_record_list(
        std::move(path),
        {record_field("steps", "training steps in this phase", 1),
         record_field("sequence_length", "tokens per sequence, [CLS] and [SEP] included", 3),
         record_field("batch_size", "sequences per batch", 1)},
        std::move(doc));
  }

  const ConfigSchema& schema() const { return schema_; }
  const std::vector<FieldBinding>& bindings() const { return bindings_; }

 private:
  // An integer field of a record_list key.
  static ConfigKey record_field(std::string name, std::string doc, double minimum) {
    ConfigKey field;
    field.path = std::move(name);
    field.type = ConfigType::integer;
    field.doc = std::move(doc);
    field.at_least(minimum);
    return field;
  }

  template <class Read, class Write>
  void bind(const std::string& path, Read read, Write write) {
    bindings_.push_back(FieldBinding{path, std::move(read), std::move(write)});
  }

  ConfigSchema schema_;
  std::vector<FieldBinding> bindings_;
};

}  // namespace seqtrain
