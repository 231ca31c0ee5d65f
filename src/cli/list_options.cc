// Comma-separated flag values: one line naming the flag and the bad entry.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "cli/commands.h"
#include "seqtrain/error.h"

namespace seqtrain {
namespace {

std::vector<std::string> split_entries(const std::string& flag, const std::string& text,
                                       const std::string& example) {
  std::vector<std::string> entries;
  std::size_t begin = 0;
  while (true) {
    const std::size_t comma = text.find(',', begin);
    std::string entry =
        text.substr(begin, comma == std::string::npos ? std::string::npos : comma - begin);
    if (entry.empty())
      throw ConfigError(
          fmt::format("{} '{}': an empty entry; give a comma-separated list such "
                      "as {}",
                      flag, text, example));
    entries.push_back(std::move(entry));
    if (comma == std::string::npos) return entries;
    begin = comma + 1;
  }
}

}  // namespace

std::vector<std::string> parse_name_list(const std::string& flag, const std::string& text,
                                         bool (*accepted)(const std::string&),
                                         const std::string& accepted_words) {
  std::vector<std::string> names;
  for (std::string& entry : split_entries(flag, text, accepted_words)) {
    if (!accepted(entry))
      throw ConfigError(
          fmt::format("{} '{}': '{}' is not accepted; use {}", flag, text, entry, accepted_words));
    if (std::find(names.begin(), names.end(), entry) == names.end())
      names.push_back(std::move(entry));
  }
  return names;
}

std::vector<std::int64_t> parse_integer_list(const std::string& flag, const std::string& text,
                                             std::int64_t minimum, std::int64_t maximum) {
  std::vector<std::int64_t> values;
  for (const std::string& entry : split_entries(flag, text, "16,64,256")) {
    std::int64_t value = 0;
    const char* end = entry.data() + entry.size();
    const auto [stop, error] = std::from_chars(entry.data(), end, value);
    if (error != std::errc{} || stop != end || value < minimum || value > maximum)
      throw ConfigError(fmt::format("{} '{}': '{}' is not an integer from {} to {}", flag, text,
                                    entry, minimum, maximum));
    values.push_back(value);
  }
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  return values;
}

}  // namespace seqtrain
