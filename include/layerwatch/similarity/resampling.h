#pragma once
/// @file
/// Uncertainty of a similarity index over the examples it was measured on: a bootstrap
/// confidence interval (examples drawn with replacement, the same rows on both sides) and a
/// permutation test (the second side's rows shuffled, which breaks the pairing of examples and
/// keeps each side's own structure). Both answer questions a single value cannot: does 0.88
/// differ from 0.90, and is 0.12 more than two unrelated representations would give at this
/// number of examples and features?
///
/// @code
///   using namespace layerwatch::similarity;
///   auto r = resample_metric(Metric::kCka, a, b, {},
///                            ResamplingOptions().bootstrap(1000).permutations(1000).seed(7));
///   fmt::print("CKA {:.3f}, 95% CI [{:.3f}, {:.3f}], p = {:.4f}\n", r.value, r.low, r.high,
///              r.p_value);
/// @endcode
///
/// The interval is the percentile bootstrap: the `confidence` central range of the resampled
/// values. It inherits the index's own small-sample bias (CCA-family indices and biased CKA
/// grow as examples per feature fall), so it is an interval for what this estimator would give
/// on other draws of as many examples, not a bias correction. The p-value is
/// (1 + #{permuted ≥ observed}) / (1 + permutations) (≤ observed for distances), which is never
/// 0 and exact in size under exchangeability.

#include <cstdint>
#include <functional>
#include <limits>
#include <string>

#include "layerwatch/core/matrix.h"
#include "layerwatch/core/option.h"
#include "layerwatch/similarity/metric.h"

namespace layerwatch::similarity {

/// How many resamples `resample_metric` draws, and from which seed.
struct ResamplingOptions {
  LAYERWATCH_OPTIONS(ResamplingOptions);
  /// Bootstrap resamples of the examples; 0 = no interval. Default 0; 1000 or more for a 95 %
  /// interval whose ends are stable to about ±0.005 on typical indices.
  LAYERWATCH_OPTION(int64_t, bootstrap, at_least(0)) = 0;
  /// Permutations of the second side's rows; 0 = no test. Default 0. The smallest p-value
  /// reachable is 1 / (permutations + 1).
  LAYERWATCH_OPTION(int64_t, permutations, at_least(0)) = 0;
  /// Central probability of the bootstrap interval. Default 0.95, range (0, 1).
  LAYERWATCH_OPTION(double, confidence, range_open_open(0, 1)) = 0.95;
  /// Rows per example, when each example spans several consecutive rows (a conv layer in the
  /// spatial layout: H·W positions per image). Whole examples are resampled and permuted, since
  /// the positions of one image are not independent draws. Default 1, range ≥ 1; the row count
  /// must be a multiple.
  LAYERWATCH_OPTION(int64_t, rows_per_example, at_least(1)) = 1;
  /// Seed of the resampling; the same seed gives the same resamples and results. Default 0.
  LAYERWATCH_OPTION(uint64_t, seed, AnyValue{}) = 0;
  LAYERWATCH_OPTIONS_END();
};

/// Result of `resample_metric`.
struct ResampledMetric {
  /// The index on all examples, as `compute_metric` gives it.
  MetricResult observed;
  double value = std::numeric_limits<double>::quiet_NaN();  ///< `observed.value()`.
  double low = std::numeric_limits<double>::quiet_NaN();    ///< Bootstrap interval, lower end.
  double high = std::numeric_limits<double>::quiet_NaN();   ///< Bootstrap interval, upper end.
  double standard_error = std::numeric_limits<double>::quiet_NaN();  ///< Bootstrap std. dev.
  int64_t bootstrap_used = 0;  ///< Resamples whose index had a value (the interval's basis).
  double p_value = std::numeric_limits<double>::quiet_NaN();  ///< Permutation p-value.
  int64_t permutations_used = 0;  ///< Permutations whose index had a value.
  /// Why an interval or p-value is missing, or a caution (resamples without a value).
  std::string message;
};

/// Called after each resample with (resamples done, resamples in all), for progress on long
/// runs; may be empty.
using ResamplingProgress = std::function<void(int64_t done, int64_t total)>;

/// The index `metric` of `x` and `y` (same rows, one per example) with a bootstrap interval
/// and a permutation p-value as `resampling` asks. Deterministic for a given seed. Never throws
/// for bad data: an observed index without a value (NaN/Inf, too few examples, …) comes back
/// with its status and no resampling; throws `std::invalid_argument` when the row counts
/// differ or are not a multiple of `rows_per_example`, or options are out of range. Needs at
/// least 3 examples for any resampling.
ResampledMetric resample_metric(Metric metric, MatrixRef x, MatrixRef y,
                                const MetricOptions& options, const ResamplingOptions& resampling,
                                Precision precision = Precision::kFloat64,
                                const ResamplingProgress& progress = {});

/// The `q` quantile (0 ≤ q ≤ 1) of `values` by linear interpolation between order statistics
/// (numpy's default), NaN for an empty vector. Reorders `values`.
double quantile(std::vector<double>& values, double q);

}  // namespace layerwatch::similarity
