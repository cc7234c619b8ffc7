#pragma once
// The one way an enum value is read back from its stable name (the inverse of `to_string`),
// with the error every option and config key gives for an unknown name.

#include <fmt/format.h>

#include <initializer_list>
#include <stdexcept>
#include <string>

namespace layerwatch::detail {

/// The value among `values` whose `to_string` is `name`. Throws `std::invalid_argument`
/// "unknown <what> '<name>': allowed are a, b, c" otherwise.
template <typename Range>
auto parse_name(const std::string& name, const Range& values, const char* what) {
  std::string allowed;
  for (const auto value : values) {
    if (name == to_string(value)) return value;
    allowed += allowed.empty() ? "" : ", ";
    allowed += to_string(value);
  }
  throw std::invalid_argument(fmt::format("unknown {} '{}': allowed are {}", what, name, allowed));
}

}  // namespace layerwatch::detail
