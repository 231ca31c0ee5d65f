#include "data/class_labels.h"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

#include "seqtrain/error.h"

namespace seqtrain {
namespace {

constexpr std::string_view kFormatName = "seqtrain.class_labels";

std::optional<std::int64_t> decimal_integer(std::string_view text) {
  std::int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty() ||
      text.front() == '+')
    return std::nullopt;
  return value;
}

}  // namespace

ClassLabels ClassLabels::from_names(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  const bool all_integers = std::all_of(names.begin(), names.end(), [](const std::string& name) {
    return decimal_integer(name).has_value();
  });
  // Byte order is already there; integers sort by value, ties ("1", "01") by bytes.
  if (all_integers)
    std::stable_sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
      return *decimal_integer(a) < *decimal_integer(b);
    });
  ClassLabels labels;
  labels.names_ = std::move(names);
  return labels;
}

std::optional<std::int32_t> ClassLabels::id_of(std::string_view name) const {
  auto found = std::find(names_.begin(), names_.end(), name);
  if (found == names_.end()) return std::nullopt;
  return static_cast<std::int32_t>(found - names_.begin());
}

const std::string& ClassLabels::name(std::int32_t id) const {
  SEQTRAIN_CHECK(id >= 0 && id < size(), "class id {} of {} classes", id, size());
  return names_[static_cast<std::size_t>(id)];
}

nlohmann::json ClassLabels::to_json() const {
  return {{"format", kFormatName}, {"version", 1}, {"names", names_}};
}

ClassLabels ClassLabels::from_json(const nlohmann::json& json, std::string_view source_name) {
  auto fail = [&](std::string_view problem) {
    return DataError(fmt::format("{}: not a seqtrain class label list: {}", source_name, problem));
  };
  if (!json.is_object() || json.value("format", std::string()) != kFormatName)
    throw fail(fmt::format("expected an object with \"format\": \"{}\"", kFormatName));
  if (!json.contains("names") || !json["names"].is_array())
    throw fail("expected a \"names\" array");
  std::vector<std::string> names;
  for (const nlohmann::json& name : json["names"]) {
    if (!name.is_string() || name.get<std::string>().empty())
      throw fail(fmt::format("label {} is not a non-empty string", name.dump()));
    names.push_back(name.get<std::string>());
  }
  ClassLabels labels = from_names(names);
  if (labels.names_ != names) throw fail("\"names\" must be distinct and in sorted order");
  return labels;
}

}  // namespace seqtrain
