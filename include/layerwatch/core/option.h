#pragma once
/// @file
/// The options convention shared by every layerwatch options struct. Each option is declared
/// once, with its name, its allowed values and (after the macro) its default, and gets chained
/// setters and getters in the style of LibTorch's `TORCH_ARG`:
///
/// @code
///   struct FooOptions {
///     LAYERWATCH_OPTIONS(FooOptions);
///     /// The threshold. Default 0.99, range (0, 1].
///     LAYERWATCH_OPTION(double, threshold, range_open_closed(0.0, 1.0)) = 0.99;
///     LAYERWATCH_OPTIONS_END();
///   };
///   auto options = FooOptions().threshold(0.995);
///   layerwatch::validate_options(options);   // "FooOptions: threshold must be in (0, 1], got 2"
/// @endcode
///
/// Validation, the JSON config form, the list of keys and the JSON dump are all derived from
/// these declarations by `for_each_option`, so they cannot disagree. An option whose type is
/// itself an options struct is nested (its keys are "outer.inner" in messages and an object in
/// JSON). A struct may add `void check_relations() const`, which validation calls after the
/// fields to check how they combine; it throws `std::invalid_argument`.

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace layerwatch {

/// A number of bytes. In a JSON config, an integer or a string with a unit ("256 MiB",
/// "64 KiB", "2 GiB").
struct Bytes {
  std::size_t value = 0;
  constexpr Bytes() = default;
  constexpr Bytes(std::size_t bytes) : value(bytes) {}  // NOLINT: a count of bytes is one
  constexpr operator std::size_t() const { return value; }
};

/// Allowed values of an option: any value of its type.
struct AnyValue {
  template <typename T>
  std::string problem(const T&) const {
    return "";
  }
  std::string describe() const { return ""; }
};

/// Allowed values of a numeric option: an interval, each end open or closed. Bounds are held
/// as `long double`, exact for every integer option layerwatch has.
struct Range {
  long double low, high;
  bool low_open = false, high_open = false;

  template <typename T>
  std::string problem(const T& value) const {
    const auto x = static_cast<long double>(value);
    const bool above_low = low_open ? x > low : x >= low;
    const bool below_high = high_open ? x < high : x <= high;
    return above_low && below_high ? "" : "must be " + describe();
  }
  std::string describe() const {
    const auto text = [](long double x) {
      std::ostringstream out;
      if (x == static_cast<long double>(static_cast<int64_t>(x))) {
        out << static_cast<int64_t>(x);
      } else {
        out << static_cast<double>(x);
      }
      return out.str();
    };
    if (high == std::numeric_limits<long double>::infinity()) {
      return (low_open ? "> " : "at least ") + text(low);
    }
    return "in " + std::string(low_open ? "(" : "[") + text(low) + ", " + text(high) +
           (high_open ? ")" : "]");
  }
};

/// [low, high].
constexpr Range range(long double low, long double high) { return {low, high}; }
/// (low, high].
constexpr Range range_open_closed(long double low, long double high) {
  return {low, high, true, false};
}
/// [low, high).
constexpr Range range_closed_open(long double low, long double high) {
  return {low, high, false, true};
}
/// (low, high).
constexpr Range range_open_open(long double low, long double high) {
  return {low, high, true, true};
}
/// [low, ∞).
constexpr Range at_least(long double low) {
  return {low, std::numeric_limits<long double>::infinity()};
}
/// (low, ∞).
constexpr Range above(long double low) {
  return {low, std::numeric_limits<long double>::infinity(), true, false};
}

/// Allowed values of an enum option: these, by their names (`to_string`).
template <typename E>
struct OneOf {
  std::vector<E> values;

  std::string problem(const E& value) const {
    for (const auto& v : values) {
      if (v == value) return "";
    }
    return "must be " + describe();
  }
  std::string describe() const {
    std::string names;
    for (const auto& v : values) names += (names.empty() ? "" : ", ") + std::string(to_string(v));
    return "one of " + names;
  }
};
template <typename E>
OneOf<E> one_of(std::vector<E> values) {
  return {std::move(values)};
}
template <typename E>
OneOf<E> one_of(std::initializer_list<E> values) {
  return {std::vector<E>(values)};
}

/// Allowed values decided by a function returning the problem ("" when the value is fine).
template <typename T>
struct Checked {
  std::string (*check)(const T&);
  const char* description;
  std::string problem(const T& value) const { return check(value); }
  std::string describe() const { return description; }
};
template <typename T>
Checked<T> checked(std::string (*check)(const T&), const char* description) {
  return {check, description};
}

/// A non-empty string.
struct NonEmpty {
  std::string problem(const std::string& value) const {
    return value.empty() ? "must not be empty" : "";
  }
  std::string describe() const { return "not empty"; }
};

namespace detail {

template <int Line>
struct OptionLine {};

/// One declared option: its key, where it lives in `Owner`, and what it allows.
template <typename Owner, typename T, typename Allowed>
struct OptionField {
  using Value = T;
  const char* key;
  T Owner::*member;
  Allowed allowed;
};

template <typename Owner, typename T, typename Allowed>
OptionField<Owner, T, Allowed> make_option_field(const char* key, T Owner::*member,
                                                 Allowed allowed) {
  return {key, member, std::move(allowed)};
}

// The most lines between LAYERWATCH_OPTIONS and LAYERWATCH_OPTIONS_END.
inline constexpr int kMaxOptionLines = 400;

template <typename Options, int Line, typename = void>
struct HasOptionAt : std::false_type {};
template <typename Options, int Line>
struct HasOptionAt<Options, Line,
                   std::void_t<decltype(Options::layerwatch_option(OptionLine<Line>{}))>>
    : std::true_type {};

template <typename Options, typename Visit, int... Offsets>
void for_each_option_at(Visit&& visit, std::integer_sequence<int, Offsets...>) {
  constexpr int first = Options::kLayerwatchFirstLine;
  (
      [&] {
        if constexpr (HasOptionAt<Options, first + Offsets>::value) {
          visit(Options::layerwatch_option(OptionLine<first + Offsets>{}));
        }
      }(),
      ...);
}

}  // namespace detail

/// True for a struct declared with LAYERWATCH_OPTIONS.
template <typename T, typename = void>
struct is_options : std::false_type {};
template <typename T>
struct is_options<T, std::void_t<decltype(T::kLayerwatchFirstLine)>> : std::true_type {};
template <typename T>
inline constexpr bool is_options_v = is_options<T>::value;

/// Calls `visit(field)` for every option of `Options`, in declaration order. A field has `key`,
/// `member` (a pointer to the member) and `allowed` (`problem(value)`, `describe()`).
template <typename Options, typename Visit>
void for_each_option(Visit&& visit) {
  static_assert(
      Options::kLayerwatchLastLine - Options::kLayerwatchFirstLine < detail::kMaxOptionLines,
      "an options struct spans more lines than for_each_option looks at");
  detail::for_each_option_at<Options>(visit,
                                      std::make_integer_sequence<int, detail::kMaxOptionLines>{});
}

namespace detail {

template <typename T, typename = void>
struct HasRelations : std::false_type {};
template <typename T>
struct HasRelations<T, std::void_t<decltype(std::declval<const T&>().check_relations())>>
    : std::true_type {};

template <typename T>
std::string value_text(const T& value) {
  if constexpr (std::is_same_v<T, std::string>) {
    return "\"" + value + "\"";
  } else if constexpr (std::is_same_v<T, bool>) {
    return value ? "true" : "false";
  } else if constexpr (std::is_same_v<T, Bytes>) {
    return std::to_string(value.value) + " bytes";
  } else if constexpr (std::is_enum_v<T>) {
    return to_string(value);
  } else if constexpr (std::is_arithmetic_v<T>) {
    std::ostringstream out;
    out << +value;
    return out.str();
  } else {
    return "that value";
  }
}

template <typename Options>
void validate_options_at(const Options& options, const std::string& owner,
                         const std::string& prefix) {
  for_each_option<Options>([&](const auto& field) {
    using T = typename std::decay_t<decltype(field)>::Value;
    const T& value = options.*(field.member);
    const std::string key = prefix + field.key;
    if constexpr (is_options_v<T>) {
      validate_options_at(value, owner, key + ".");
    } else {
      const std::string problem = field.allowed.problem(value);
      if (!problem.empty()) {
        throw std::invalid_argument(owner + ": " + key + " " + problem + ", got " +
                                    value_text(value));
      }
    }
  });
  if constexpr (HasRelations<Options>::value) options.check_relations();
}

}  // namespace detail

/// Checks every option of `options` (nested ones too) against its allowed values, then the
/// struct's `check_relations()`. Throws `std::invalid_argument` naming the struct, the key, the
/// allowed values and the value, e.g. "MonitorOptions: analysis.threads must be in [1, 64],
/// got 0".
template <typename Options>
void validate_options(const Options& options) {
  detail::validate_options_at(options, Options::kLayerwatchName, "");
}

/// True when every option of `a` equals the same option of `b` (nested ones too).
template <typename Options>
bool options_equal(const Options& a, const Options& b) {
  bool equal = true;
  for_each_option<Options>([&](const auto& field) {
    using T = typename std::decay_t<decltype(field)>::Value;
    if constexpr (is_options_v<T>) {
      equal = equal && options_equal(a.*(field.member), b.*(field.member));
    } else if constexpr (std::is_same_v<T, Bytes>) {
      equal = equal && (a.*(field.member)).value == (b.*(field.member)).value;
    } else {
      equal = equal && a.*(field.member) == b.*(field.member);
    }
  });
  return equal;
}

}  // namespace layerwatch

/// Opens the option declarations of `Self` (first line of the struct).
#define LAYERWATCH_OPTIONS(Self)                        \
 public:                                                \
  using LayerwatchOptionsSelf = Self;                   \
  static constexpr const char* kLayerwatchName = #Self; \
  static constexpr int kLayerwatchFirstLine = __LINE__ /* NOLINT */

/// Closes the option declarations (after the last LAYERWATCH_OPTION).
#define LAYERWATCH_OPTIONS_END() \
 public:                         \
  static constexpr int kLayerwatchLastLine = __LINE__ /* NOLINT */

/// Declares option `name` of type `T` whose values must satisfy `allowed` (`AnyValue{}`,
/// `range(1, 64)`, `one_of({...})`, …): a member `name_`, chained setters `name(value)` (copy and
/// move) and getters `name()`. The default follows the macro: `LAYERWATCH_OPTION(...) = 1;`.
/// One option per line.
#define LAYERWATCH_OPTION(T, name, allowed)                                                \
 public:                                                                                   \
  inline auto name(const T& new_##name)->decltype(*this) { /* NOLINT */                    \
    this->name##_ = new_##name;                                                            \
    return *this;                                                                          \
  }                                                                                        \
  inline auto name(T&& new_##name)->decltype(*this) { /* NOLINT */                         \
    this->name##_ = std::move(new_##name);                                                 \
    return *this;                                                                          \
  }                                                                                        \
  inline const T& name() const noexcept { /* NOLINT */                                     \
    return this->name##_;                                                                  \
  }                                                                                        \
  inline T& name() noexcept { /* NOLINT */                                                 \
    return this->name##_;                                                                  \
  }                                                                                        \
  static auto layerwatch_option(::layerwatch::detail::OptionLine<__LINE__>) { /* NOLINT */ \
    return ::layerwatch::detail::make_option_field(#name, &LayerwatchOptionsSelf::name##_, \
                                                   allowed);                               \
  }                                                                                        \
                                                                                           \
 private:                                                                                  \
  T name##_ /* NOLINT */
