#include "layerwatch/similarity/resampling.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <stdexcept>
#include <vector>

#include "core/random_index.h"

namespace layerwatch::similarity {
namespace {

// The rows `rows` of `m`, in that order, in m's type.
Matrix take_rows(MatrixRef m, const std::vector<Eigen::Index>& rows) {
  return m.visit([&](const auto& values) {
    using Scalar = typename std::decay_t<decltype(values)>::Scalar;
    Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> out(
        static_cast<Eigen::Index>(rows.size()), values.cols());
    for (Eigen::Index j = 0; j < values.cols(); ++j) {
      for (size_t i = 0; i < rows.size(); ++i)
        out(static_cast<Eigen::Index>(i), j) = values(rows[i], j);
    }
    return Matrix(out);
  });
}

double index_of(Metric metric, const Activations& x, MatrixRef y, const MetricOptions& options,
                Precision precision) {
  ActivationPair pair(x, Activations(y, precision));
  const auto r = compute_metric(metric, pair, options);
  return has_value(r.status()) ? r.value() : std::numeric_limits<double>::quiet_NaN();
}

std::string unused_note(const char* what, int64_t used, int64_t total) {
  if (used == total) return "";
  return fmt::format(
      "{} of {} {} had no value (rank or variance lost in the resample) and were "
      "left out; ",
      total - used, total, what);
}

}  // namespace

double quantile(std::vector<double>& values, double q) {
  if (values.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(values.begin(), values.end());
  const double position = q * static_cast<double>(values.size() - 1);
  const auto below = static_cast<size_t>(std::floor(position));
  const size_t above = std::min(below + 1, values.size() - 1);
  const double fraction = position - static_cast<double>(below);
  return values[below] + fraction * (values[above] - values[below]);
}

ResampledMetric resample_metric(Metric metric, MatrixRef x, MatrixRef y,
                                const MetricOptions& options, const ResamplingOptions& resampling,
                                Precision precision, const ResamplingProgress& progress) {
  validate_options(resampling);
  if (x.rows() != y.rows()) {
    throw std::invalid_argument(fmt::format(
        "resample_metric: x has {} rows and y {}: both must hold the same examples, one row each",
        x.rows(), y.rows()));
  }
  const int64_t group = resampling.rows_per_example();
  if (x.rows() % group != 0) {
    throw std::invalid_argument(fmt::format(
        "resample_metric: {} rows are not whole examples of {} rows each", x.rows(), group));
  }
  ResampledMetric out;
  const Activations ax(x, precision);
  {
    ActivationPair pair(ax, Activations(y, precision));
    out.observed = compute_metric(metric, pair, options);
  }
  out.value = out.observed.value();
  const int64_t n = x.rows() / group;  // examples
  const int64_t total = resampling.bootstrap() + resampling.permutations();
  if (total == 0) return out;
  if (!has_value(out.observed.status())) {
    out.message = "no resampling: the index itself has no value (" + out.observed.message() + ")";
    return out;
  }
  if (n < 3) {
    out.message = fmt::format("no resampling: {} examples; at least 3 are needed", n);
    return out;
  }
  layerwatch::detail::RandomIndex random(resampling.seed());
  std::vector<Eigen::Index> examples(static_cast<size_t>(n));
  std::vector<Eigen::Index> rows(static_cast<size_t>(n * group));
  // The rows of `examples`, each example's `group` rows in order.
  const auto expand = [&] {
    for (size_t e = 0; e < examples.size(); ++e) {
      for (int64_t k = 0; k < group; ++k) rows[e * group + k] = examples[e] * group + k;
    }
  };
  int64_t done = 0;

  std::vector<double> boot;
  boot.reserve(static_cast<size_t>(resampling.bootstrap()));
  for (int64_t b = 0; b < resampling.bootstrap(); ++b) {
    for (auto& example : examples) example = random.below(n);
    expand();
    const double v = index_of(metric, Activations(take_rows(x, rows), precision),
                              take_rows(y, rows), options, precision);
    if (std::isfinite(v)) boot.push_back(v);
    if (progress) progress(++done, total);
  }
  out.bootstrap_used = static_cast<int64_t>(boot.size());
  if (!boot.empty()) {
    const double mean = std::accumulate(boot.begin(), boot.end(), 0.0) / boot.size();
    double squares = 0;
    for (const double v : boot) squares += (v - mean) * (v - mean);
    out.standard_error = boot.size() > 1 ? std::sqrt(squares / (boot.size() - 1)) : 0.0;
    const double tail = (1 - resampling.confidence()) / 2;
    out.low = quantile(boot, tail);
    out.high = quantile(boot, 1 - tail);
  }
  out.message += unused_note("bootstrap resamples", out.bootstrap_used, resampling.bootstrap());

  // The permuted side is y; x is prepared once and shared by every permutation.
  const bool distance = is_distance(metric);
  int64_t as_extreme = 0;
  std::iota(examples.begin(), examples.end(), Eigen::Index{0});
  for (int64_t p = 0; p < resampling.permutations(); ++p) {
    random.shuffle(examples);
    expand();
    const double v = index_of(metric, ax, take_rows(y, rows), options, precision);
    if (std::isfinite(v)) {
      ++out.permutations_used;
      if (distance ? v <= out.value : v >= out.value) ++as_extreme;
    }
    if (progress) progress(++done, total);
  }
  if (out.permutations_used > 0) {
    out.p_value =
        static_cast<double>(1 + as_extreme) / static_cast<double>(1 + out.permutations_used);
  }
  out.message += unused_note("permutations", out.permutations_used, resampling.permutations());
  if (!out.message.empty()) out.message.resize(out.message.size() - 2);  // the last "; "
  return out;
}

}  // namespace layerwatch::similarity
