#pragma once
/// @file
/// Options of the similarity indices. All are plain structs with chained setters, validated
/// where they are used:
///
/// @code
///   auto options = layerwatch::similarity::SvccaOptions().keep(0.98);
/// @endcode

#include <cstdint>

#include "layerwatch/core/option.h"

namespace layerwatch::similarity {

/// Floating-point type of the heavy matrix products (covariances, cross-covariances). Chosen
/// where a matrix is prepared (`Activations`) or by the one-call functions; decompositions
/// always run in float64.
enum class Precision {
  kFloat64,  ///< "float64" (default): products accumulated in float64.
  kFloat32,  ///< "float32": about 2x faster products; agrees with float64 to ~1e-4 on typical
             ///< activations.
};
/// Stable name ("float64", "float32").
const char* to_string(Precision precision) noexcept;

/// How SVCCA chooses how many top singular directions of each side it keeps.
enum class SvccaReduction {
  kSingularValueMass,  ///< "mass": fewest directions whose singular values sum to ≥ keep of the
                       ///< total (the SVCCA paper's criterion). Default.
  kExplainedVariance,  ///< "variance": fewest directions whose squared singular values sum to
                       ///< ≥ keep.
  kFixedDims,          ///< "fixed": exactly `dims` directions (fewer if the rank is lower).
};
/// Stable name ("mass", "variance", "fixed").
const char* to_string(SvccaReduction reduction) noexcept;

/// Options of `cca()` and `pwcca()`.
struct CcaOptions {
  LAYERWATCH_OPTIONS(CcaOptions);
  /// Also return the canonical coefficients (p×k and q×k), so that the canonical variates are
  /// `centred_x * coef_x`. Default false.
  LAYERWATCH_OPTION(bool, compute_coefficients, AnyValue{}) = false;
  /// Directions whose variance is below `rank_tolerance` × the largest variance are treated as
  /// linearly dependent and dropped (status `kRankDeficient`). Default 1e-10, range [0, 1).
  LAYERWATCH_OPTION(double, rank_tolerance, range_closed_open(0, 1)) = 1e-10;
  LAYERWATCH_OPTIONS_END();
};

/// Options of `svcca()`.
struct SvccaOptions {
  LAYERWATCH_OPTIONS(SvccaOptions);
  /// Reduction criterion. Default `kSingularValueMass` ("mass").
  LAYERWATCH_OPTION(SvccaReduction, reduction,
                    one_of({SvccaReduction::kSingularValueMass, SvccaReduction::kExplainedVariance,
                            SvccaReduction::kFixedDims})) = SvccaReduction::kSingularValueMass;
  /// Fraction kept for the mass/variance criteria. Default 0.99, range (0, 1].
  LAYERWATCH_OPTION(double, keep, range_open_closed(0, 1)) = 0.99;
  /// Number of directions for `kFixedDims`. Default 20, range ≥ 1.
  LAYERWATCH_OPTION(int64_t, dims, at_least(1)) = 20;
  /// As in `CcaOptions`: directions below this relative variance are never kept. Default 1e-10,
  /// range [0, 1).
  LAYERWATCH_OPTION(double, rank_tolerance, range_closed_open(0, 1)) = 1e-10;
  LAYERWATCH_OPTIONS_END();
};

/// Options of `linear_cka()`.
struct CkaOptions {
  LAYERWATCH_OPTIONS(CkaOptions);
  /// Use the unbiased HSIC estimator (U-centring, Song et al. 2012). Needs n ≥ 4. Default false.
  LAYERWATCH_OPTION(bool, debiased, AnyValue{}) = false;
  LAYERWATCH_OPTIONS_END();
};

/// Options of `rbf_cka()`.
struct RbfCkaOptions {
  LAYERWATCH_OPTIONS(RbfCkaOptions);
  /// Bandwidth σ = threshold · √(median squared distance), median over the full n×n matrix.
  /// Default 1.0, range > 0.
  LAYERWATCH_OPTION(double, threshold, above(0)) = 1.0;
  /// Use the unbiased HSIC estimator. Default false.
  LAYERWATCH_OPTION(bool, debiased, AnyValue{}) = false;
  /// Largest n for which the n×n kernels are built (each takes 8·n² bytes); larger inputs return
  /// status `kTooLarge`. Default 4096, range ≥ 4.
  LAYERWATCH_OPTION(int64_t, max_samples, at_least(4)) = 4096;
  LAYERWATCH_OPTIONS_END();
};

}  // namespace layerwatch::similarity
