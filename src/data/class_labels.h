// ClassLabels: the label name <-> class id map of sequence classification.
//
// Ids follow sorted order, so they do not depend on the order of lines in a
// file: numeric order when every label is a decimal integer ("2" before "10"),
// byte order otherwise. Saved as JSON beside the vocabulary so evaluation maps
// the model's outputs back to the same names.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace seqtrain {

class ClassLabels {
 public:
  ClassLabels() = default;
  // The distinct names among `names`, in the order above.
  static ClassLabels from_names(std::vector<std::string> names);

  std::optional<std::int32_t> id_of(std::string_view name) const;
  const std::string& name(std::int32_t id) const;
  std::int32_t size() const { return static_cast<std::int32_t>(names_.size()); }
  const std::vector<std::string>& names() const { return names_; }

  nlohmann::json to_json() const;
  // DataError naming `source_name` unless the JSON lists distinct names in the
  // order from_names gives them.
  static ClassLabels from_json(const nlohmann::json& json, std::string_view source_name);

  bool operator==(const ClassLabels& other) const = default;

 private:
  std::vector<std::string> names_;  // index = class id
};

}  // namespace seqtrain
