#pragma once
/// @file
/// The indices by name: one enum for every place that lets a user choose a metric (the
/// `compare` command, `MonitorOptions`, JSON configs), and one dispatch that computes it on an
/// `ActivationPair`.
///
/// @code
///   auto metric = layerwatch::similarity::parse_metric("cka");
///   auto r = compute_metric(metric, pair);   // r.value(), r.status(), r.kept_dims()
/// @endcode

#include <string>
#include <variant>
#include <vector>

#include "layerwatch/core/option.h"
#include "layerwatch/similarity/activations.h"

namespace layerwatch::similarity {

/// A similarity index (or distance) selectable by name.
enum class Metric {
  kSvcca,        ///< "svcca": ρ̄ after SVD reduction (default of the monitor).
  kCca,          ///< "cca": ρ̄ over all directions.
  kPwcca,        ///< "pwcca": projection-weighted CCA.
  kCka,          ///< "cka": linear CKA.
  kCkaDebiased,  ///< "cka-debiased": linear CKA with the unbiased HSIC.
  kCkaRbf,       ///< "cka-rbf": RBF-kernel CKA.
  kProcrustes,  ///< "procrustes": Ding et al.'s distance (0 = identical; a distance, not an index).
};

/// Every metric, in the order above.
const std::vector<Metric>& all_metrics();
/// Stable name of a metric ("svcca", "cka-debiased", …).
const char* to_string(Metric metric) noexcept;
/// Parses a name; throws `std::invalid_argument` naming the allowed values otherwise.
Metric parse_metric(const std::string& name);
/// True for distances (lower = more similar), false for indices (higher = more similar).
bool is_distance(Metric metric) noexcept;

/// Options of `compute_metric`, one block per index family that has options.
struct MetricOptions {
  LAYERWATCH_OPTIONS(MetricOptions);
  /// Options of SVCCA (reduction and its fraction). Default: singular-value mass 0.99.
  LAYERWATCH_OPTION(SvccaOptions, svcca, AnyValue{}) = {};
  /// Options of RBF CKA (bandwidth threshold, size cap). Default threshold 1.0.
  LAYERWATCH_OPTION(RbfCkaOptions, rbf, AnyValue{}) = {};
  LAYERWATCH_OPTIONS_END();
};

/// The outcome of one metric: its index's full result (`CcaResult` for SVCCA and CCA,
/// `PwccaResult`, `CkaResult` for the CKA variants, `ProcrustesResult`), and the fields every
/// record carries.
struct MetricResult {
  Metric metric = Metric::kSvcca;
  std::variant<CcaResult, PwccaResult, CkaResult, ProcrustesResult> result;

  /// The fields every result has (status, message, value, …).
  const ResultBase& base() const {
    return std::visit([](const auto& r) -> const ResultBase& { return r; }, result);
  }
  Status status() const { return base().status; }
  double value() const { return base().value; }
  const std::string& message() const { return base().message; }
  /// Directions used per side: SVCCA's kept dims, CCA's ranks; empty for the other indices.
  std::vector<int64_t> kept_dims() const {
    if (const auto* cca = std::get_if<CcaResult>(&result)) return {cca->kept_x, cca->kept_y};
    return {};
  }
};

/// Computes `metric` on `pair`: the one dispatch from a metric's name to its index. Never
/// throws for bad data (statuses instead); throws `std::invalid_argument` for bad options.
MetricResult compute_metric(Metric metric, ActivationPair& pair, const MetricOptions& options = {});

}  // namespace layerwatch::similarity
