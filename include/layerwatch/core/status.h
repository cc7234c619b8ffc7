#pragma once
/// @file
/// Status codes for numerical outcomes. Argument errors (bad shapes, bad options) throw
/// `std::invalid_argument`; everything that depends on the data itself is reported as a
/// `Status` inside a result, so nothing throws across the analyzer thread.

#include <string>

namespace layerwatch {

/// Outcome of a numerical computation.
enum class Status {
  kOk = 0,         ///< Value is valid.
  kRankDeficient,  ///< Value is valid, computed on the non-degenerate subspace only.
  kTooFewSamples,  ///< Fewer samples than the index needs; value is NaN (meaningless otherwise).
  kNonFinite,      ///< Input holds NaN or Inf; value is NaN.
  kEmptyInput,     ///< Zero samples or zero features; value is NaN.
  kZeroVariance,   ///< Every feature of an input is constant; value is NaN.
  kTooLarge,       ///< The computation would need more memory than allowed (e.g. n×n kernel).
  kError,          ///< Any other failure (e.g. an exception inside a background job).
};

/// Stable snake_case name of a status, used in JSON output and logs ("ok", "non_finite", …).
const char* to_string(Status status) noexcept;

/// True when the result's value may be used (`kOk` or `kRankDeficient`).
constexpr bool has_value(Status status) noexcept {
  return status == Status::kOk || status == Status::kRankDeficient;
}

}  // namespace layerwatch
