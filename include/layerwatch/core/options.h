#pragma once
/// @file
/// The options-struct convention shared by every layerwatch options type.

/// Declares an option field `name_` with a chained setter `name(value)` and a getter `name()`,
/// in the style of libtorch's `TORCH_ARG`:
///
///   struct FooOptions {
///     LAYERWATCH_ARG(double, threshold) = 0.99;
///   };
///   auto options = FooOptions().threshold(0.995);
///
/// Values are validated where they are consumed, with a message naming the field.
#define LAYERWATCH_ARG(T, name)                                         \
 public:                                                                \
  inline auto name(const T& new_##name)->decltype(*this) { /* NOLINT */ \
    this->name##_ = new_##name;                                         \
    return *this;                                                       \
  }                                                                     \
  inline const T& name() const noexcept { /* NOLINT */                  \
    return this->name##_;                                               \
  }                                                                     \
                                                                        \
 private:                                                               \
  T name##_ /* NOLINT */
