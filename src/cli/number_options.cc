// The numeric options' validators: one line naming the accepted values, where
// CLI11's PositiveNumber said "not in range 0.000000 to 1797693...(309 digits)"
// and let nan through.
#include <charconv>
#include <cmath>
#include <cstdint>

#include <fmt/format.h>

#include "cli/commands.h"

namespace seqtrain {
namespace {

// The whole text as an integer of at most 18 digits, or nothing.
bool parse_integer(const std::string& text, std::int64_t& value) {
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  return error == std::errc{} && stop == end;
}

}  // namespace

CLI::Validator integer_at_least(std::int64_t minimum) {
  return CLI::Validator(
      [minimum](const std::string& text) {
        std::int64_t value = 0;
        return parse_integer(text, value) && value >= minimum
                   ? std::string()
                   : fmt::format("'{}' is not an integer >= {}", text, minimum);
      },
      fmt::format("INT>={}", minimum));
}

CLI::Validator positive_finite_number() {
  return CLI::Validator(
      [](const std::string& text) {
        double value = 0;
        const char* end = text.data() + text.size();
        const auto [stop, error] = std::from_chars(text.data(), end, value);
        return error == std::errc{} && stop == end && std::isfinite(value) && value > 0
                   ? std::string()
                   : fmt::format("'{}' is not a finite number > 0", text);
      },
      "NUMBER>0");
}

}  // namespace seqtrain
