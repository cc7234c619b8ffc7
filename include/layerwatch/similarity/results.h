#pragma once
/// @file
/// Result structs of the similarity indices. Every result carries a `Status`; `value` is NaN
/// unless `has_value(status)`. `message` explains any status other than `kOk`, and may hold a
/// caution (e.g. few samples per feature) even when the status is `kOk`.

#include <Eigen/Core>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "layerwatch/core/status.h"

namespace layerwatch::similarity {

/// Fields every result shares.
struct ResultBase {
  Status status = Status::kOk;  ///< Outcome; see `layerwatch::Status`.
  std::string message;          ///< Human-readable explanation (empty when all is well).
  double value = std::numeric_limits<double>::quiet_NaN();  ///< The index (or distance).
  int64_t n_samples = 0;                                    ///< Rows of both inputs.
  std::vector<int64_t> dropped_x;  ///< Constant feature columns of x, dropped.
  std::vector<int64_t> dropped_y;  ///< Constant feature columns of y, dropped.
};

/// Result of `cca()` and `svcca()`. `value` is the mean canonical correlation ρ̄.
struct CcaResult : ResultBase {
  Eigen::VectorXd rho;  ///< Canonical correlations, descending, in [0, 1].
  double r2 = std::numeric_limits<double>::quiet_NaN();  ///< R²_CCA: mean of ρ².
  int64_t kept_x = 0;      ///< Directions of x used (rank, or SVCCA's kept dims).
  int64_t kept_y = 0;      ///< Directions of y used.
  Eigen::MatrixXd coef_x;  ///< p×k coefficients (if requested): variates = centred x · coef_x.
  Eigen::MatrixXd coef_y;  ///< q×k coefficients (if requested).
};

/// Result of `pwcca()`. `value` = Σ αᵢρᵢ / Σ αᵢ.
struct PwccaResult : ResultBase {
  Eigen::VectorXd rho;        ///< Canonical correlations.
  Eigen::VectorXd weights;    ///< Normalised αᵢ (sum to 1).
  bool weighted_by_x = true;  ///< True when x was the narrower side whose variates weigh.
};

/// Result of the CKA variants. `value` is the index, in [0, 1] (debiased may dip below 0).
struct CkaResult : ResultBase {};

/// Result of `procrustes()`. `value` is Ding et al.'s distance 2 − 2‖XᵀY‖_* ∈ [0, 2].
struct ProcrustesResult : ResultBase {
  double angular = std::numeric_limits<double>::quiet_NaN();  ///< arccos(‖XᵀY‖_*) ∈ [0, π/2].
};

}  // namespace layerwatch::similarity
