#pragma once
// The JSON form of any options struct, derived from its LAYERWATCH_OPTION declarations: reading
// (every key checked: its type, its allowed values; unknown keys named with the allowed ones),
// writing, and the list of keys. Errors are `Error` (a std::invalid_argument subclass chosen by
// the caller) with "key 'a.b': <problem>".

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <vector>

#include "layerwatch/core/option.h"

namespace layerwatch::detail {

template <typename Error>
[[noreturn]] void option_error(const std::string& key, const std::string& problem) {
  throw Error(fmt::format("key '{}': {}", key, problem));
}

// "256 MiB" → 268435456; plain integers are bytes.
template <typename Error>
Bytes bytes_from_json(const nlohmann::json& v, const std::string& key) {
  if (v.is_number_unsigned()) return Bytes{v.get<std::size_t>()};
  if (v.is_string()) {
    const std::string text = v.get<std::string>();
    std::size_t end = 0;
    double number = 0;
    try {
      number = std::stod(text, &end);
    } catch (const std::exception&) {
      end = 0;
    }
    std::string unit = text.substr(end);
    unit.erase(0, unit.find_first_not_of(' '));
    const std::pair<const char*, double> units[] = {
        {"", 1}, {"B", 1}, {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}};
    for (const auto& [name, scale] : units) {
      if (end > 0 && unit == name && number >= 0) {
        return Bytes{static_cast<std::size_t>(std::llround(number * scale))};
      }
    }
  }
  option_error<Error>(key, fmt::format("must be a number of bytes or a string such as \"256 MiB\" "
                                       "(units B, KiB, MiB, GiB), got {}",
                                       v.dump()));
}

inline nlohmann::json bytes_to_json(Bytes bytes) {
  for (const auto& [name, scale] : {std::pair<const char*, std::size_t>{"GiB", 1u << 30},
                                    {"MiB", 1u << 20},
                                    {"KiB", 1u << 10}}) {
    if (bytes.value >= scale && bytes.value % scale == 0) {
      return fmt::format("{} {}", bytes.value / scale, name);
    }
  }
  return bytes.value;
}

template <typename Error, typename T, typename Allowed>
T value_from_json(const nlohmann::json& v, const std::string& key, const Allowed& allowed) {
  const auto wrong = [&](const char* what) {
    const std::string range = allowed.describe();
    option_error<Error>(key, fmt::format("must be {}{}{}, got {}", what, range.empty() ? "" : " ",
                                         range, v.dump()));
  };
  if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_boolean()) wrong("true or false");
    return v.get<bool>();
  } else if constexpr (std::is_same_v<T, Bytes>) {
    return bytes_from_json<Error>(v, key);
  } else if constexpr (std::is_integral_v<T>) {
    if (!v.is_number_integer()) wrong("an integer");
    if constexpr (std::is_unsigned_v<T>) {
      if (!v.is_number_unsigned()) wrong("a non-negative integer");
    }
    return v.get<T>();
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!v.is_number()) wrong("a number");
    return v.get<T>();
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!v.is_string()) wrong("a string");
    return v.get<std::string>();
  } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    if (!v.is_array()) wrong("an array of strings");
    std::vector<std::string> out;
    for (const auto& item : v) {
      if (!item.is_string()) wrong("an array of strings");
      out.push_back(item.get<std::string>());
    }
    return out;
  } else if constexpr (std::is_enum_v<T>) {
    if (v.is_string()) {
      for (const T& candidate : allowed.values) {
        if (v.get<std::string>() == to_string(candidate)) return candidate;
      }
    }
    option_error<Error>(key, fmt::format("must be {}, got {}", allowed.describe(), v.dump()));
  } else {
    static_assert(sizeof(T) == 0, "no JSON form for this option type");
  }
}

template <typename T>
nlohmann::json value_to_json(const T& value) {
  if constexpr (std::is_same_v<T, Bytes>) {
    return bytes_to_json(value);
  } else if constexpr (std::is_enum_v<T>) {
    return to_string(value);
  } else {
    return value;
  }
}

// Applies the keys of `config` to `options`; `prefix` names the enclosing object in errors.
template <typename Error, typename Options>
void options_from_json(const nlohmann::json& config, Options& options,
                       const std::string& prefix = "") {
  if (!config.is_object()) {
    if (prefix.empty()) {
      throw Error(fmt::format("a config must be a JSON object, got {}", config.type_name()));
    }
    option_error<Error>(prefix.substr(0, prefix.size() - 1),
                        fmt::format("must be an object, got {}", config.dump()));
  }
  for (const auto& item : config.items()) {
    // Named references, not a structured binding: lambdas may not capture those before C++20.
    const std::string& key = item.key();
    const nlohmann::json& value = item.value();
    bool known = false;
    for_each_option<Options>([&](const auto& field) {
      if (key != field.key) return;
      known = true;
      using T = typename std::decay_t<decltype(field)>::Value;
      T& target = options.*(field.member);
      if constexpr (is_options_v<T>) {
        options_from_json<Error>(value, target, prefix + key + ".");
      } else {
        T parsed = value_from_json<Error, T>(value, prefix + key, field.allowed);
        const std::string problem = field.allowed.problem(parsed);
        if (!problem.empty()) {
          option_error<Error>(prefix + key, fmt::format("{}, got {}", problem, value.dump()));
        }
        target = std::move(parsed);
      }
    });
    if (!known) {
      std::vector<std::string> keys;
      for_each_option<Options>([&](const auto& field) { keys.push_back(field.key); });
      option_error<Error>(prefix + key,
                          fmt::format("unknown key; allowed keys{} are {}",
                                      prefix.empty() ? "" : " here", fmt::join(keys, ", ")));
    }
  }
}

template <typename Options>
nlohmann::json options_to_json(const Options& options) {
  nlohmann::json out = nlohmann::json::object();
  for_each_option<Options>([&](const auto& field) {
    using T = typename std::decay_t<decltype(field)>::Value;
    const T& value = options.*(field.member);
    if constexpr (is_options_v<T>) {
      out[field.key] = options_to_json(value);
    } else {
      out[field.key] = value_to_json(value);
    }
  });
  return out;
}

// Every key, nested ones dotted, in declaration order.
template <typename Options>
void option_keys(std::vector<std::string>& keys, const std::string& prefix = "") {
  for_each_option<Options>([&](const auto& field) {
    using T = typename std::decay_t<decltype(field)>::Value;
    if constexpr (is_options_v<T>) {
      option_keys<T>(keys, prefix + field.key + ".");
    } else {
      keys.push_back(prefix + field.key);
    }
  });
}

}  // namespace layerwatch::detail
