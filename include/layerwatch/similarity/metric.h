#pragma once
/// @file
/// The indices by name: one enum for every place that lets a user choose a metric (the
/// `compare` command, `MonitorOptions`, JSON configs), and one dispatch that computes it on an
/// `ActivationPair`.
///
///   auto metric = layerwatch::similarity::parse_metric("cka");
///   auto r = compute_metric(metric, pair);   // r.value, r.status, r.kept_dims

#include <string>
#include <vector>

#include "layerwatch/core/options.h"
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

/// Options of `compute_metric`, one block per index family.
struct MetricOptions {
  /// Options of SVCCA (reduction and its fraction). Default: singular-value mass 0.99.
  LAYERWATCH_ARG(SvccaOptions, svcca) = {};
  /// Options of RBF CKA (bandwidth threshold, size cap). Default threshold 1.0.
  LAYERWATCH_ARG(RbfCkaOptions, rbf) = {};
};

/// The outcome of one metric, reduced to what logs and records carry.
struct MetricValue {
  Status status = Status::kOk;
  std::string message;
  double value = std::numeric_limits<double>::quiet_NaN();
  /// Directions used per side: SVCCA's kept dims, CCA's ranks; empty for the other indices.
  std::vector<int64_t> kept_dims;
};

/// Computes `metric` on `pair`. Never throws for bad data (statuses instead).
MetricValue compute_metric(Metric metric, ActivationPair& pair, const MetricOptions& options = {});

}  // namespace layerwatch::similarity
