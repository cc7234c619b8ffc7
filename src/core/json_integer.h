#pragma once
// One checked read of an integer from JSON, for every reader of layerwatch's files (logs,
// checkpoints): nlohmann converts a float such as 6e27 to an integer without a check, which
// is undefined behaviour, and an unsigned value beyond int64_t would wrap.

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

namespace layerwatch::detail {

/// `value` as int64_t when it is a JSON integer that fits; nullopt otherwise (a float, a
/// string, an unsigned value beyond int64_t). Each caller throws its own error.
inline std::optional<int64_t> json_int64(const nlohmann::json& value) {
  if (!value.is_number_integer()) return std::nullopt;
  if (value.is_number_unsigned() &&
      value.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return std::nullopt;
  }
  return value.get<int64_t>();
}

}  // namespace layerwatch::detail
