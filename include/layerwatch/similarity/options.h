#pragma once
/// @file
/// Options of the similarity indices. All are plain structs with chained setters:
///
///   auto options =
///   layerwatch::similarity::SvccaOptions().keep(0.98).precision(Precision::kFloat32);

#include <cstdint>

#include "layerwatch/core/options.h"

namespace layerwatch::similarity {

/// Floating-point type of the heavy matrix products (covariances, cross-covariances).
/// Decompositions always run in float64.
enum class Precision {
  kFloat64,  ///< Default: products accumulated in float64.
  kFloat32,  ///< About 2x faster products; agrees with float64 to ~1e-4 on typical activations.
};

/// How SVCCA chooses how many top singular directions of each side it keeps.
enum class SvccaReduction {
  kSingularValueMass,  ///< Fewest directions whose singular values sum to ≥ keep of the total
                       ///< (the SVCCA paper's criterion). Default.
  kExplainedVariance,  ///< Fewest directions whose squared singular values sum to ≥ keep.
  kFixedDims,          ///< Exactly `dims` directions (fewer if the rank is lower).
};

/// Options of `cca()` and `pwcca()`.
struct CcaOptions {
  /// Precision of the covariance products. Default float64.
  LAYERWATCH_ARG(Precision, precision) = Precision::kFloat64;
  /// Also return the canonical coefficients (p×k and q×k), so that the canonical variates are
  /// `centred_x * coef_x`. Default false.
  LAYERWATCH_ARG(bool, compute_coefficients) = false;
  /// Directions whose variance is below `rank_tolerance` × the largest variance are treated as
  /// linearly dependent and dropped (status `kRankDeficient`). Default 1e-10, range [0, 1).
  LAYERWATCH_ARG(double, rank_tolerance) = 1e-10;
};

/// Options of `svcca()`.
struct SvccaOptions {
  /// Reduction criterion. Default `kSingularValueMass`.
  LAYERWATCH_ARG(SvccaReduction, reduction) = SvccaReduction::kSingularValueMass;
  /// Fraction kept for the mass/variance criteria. Default 0.99, range (0, 1].
  LAYERWATCH_ARG(double, keep) = 0.99;
  /// Number of directions for `kFixedDims`. Default 20, range ≥ 1.
  LAYERWATCH_ARG(int64_t, dims) = 20;
  /// Precision of the covariance products. Default float64.
  LAYERWATCH_ARG(Precision, precision) = Precision::kFloat64;
  /// As in `CcaOptions`: directions below this relative variance are never kept. Default 1e-10.
  LAYERWATCH_ARG(double, rank_tolerance) = 1e-10;
};

/// Options of `linear_cka()`.
struct CkaOptions {
  /// Use the unbiased HSIC estimator (U-centring, Song et al. 2012). Needs n ≥ 4. Default false.
  LAYERWATCH_ARG(bool, debiased) = false;
  /// Precision of the products. Default float64.
  LAYERWATCH_ARG(Precision, precision) = Precision::kFloat64;
};

/// Options of `rbf_cka()`.
struct RbfCkaOptions {
  /// Bandwidth σ = threshold · √(median squared distance), median over the full n×n matrix.
  /// Default 1.0, range > 0.
  LAYERWATCH_ARG(double, threshold) = 1.0;
  /// Use the unbiased HSIC estimator. Default false.
  LAYERWATCH_ARG(bool, debiased) = false;
  /// Largest n for which the n×n kernels are built (each takes 8·n² bytes); larger inputs return
  /// status `kTooLarge`. Default 4096, range ≥ 4.
  LAYERWATCH_ARG(int64_t, max_samples) = 4096;
};

}  // namespace layerwatch::similarity
