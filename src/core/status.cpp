#include "layerwatch/core/status.h"

namespace layerwatch {

const char* to_string(Status status) noexcept {
  switch (status) {
    case Status::kOk:
      return "ok";
    case Status::kRankDeficient:
      return "rank_deficient";
    case Status::kTooFewSamples:
      return "too_few_samples";
    case Status::kNonFinite:
      return "non_finite";
    case Status::kEmptyInput:
      return "empty_input";
    case Status::kZeroVariance:
      return "zero_variance";
    case Status::kTooLarge:
      return "too_large";
    case Status::kError:
      return "error";
  }
  return "unknown";
}

}  // namespace layerwatch
