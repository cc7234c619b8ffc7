#pragma once
/// @file
/// One-call similarity indices on two (samples × features) matrices, float32 or float64 (each
/// side either; `MatrixRef` takes Eigen matrices as they are). Columns are centred first;
/// inputs must have the same number of rows (samples), otherwise `std::invalid_argument` names
/// both shapes. Numerical problems come back as a `Status`. `precision` is the type of the
/// heavy products (float64 by default; float32 is ~2× faster and agrees to ~1e-4).
///
/// @code
///   Eigen::MatrixXf a = ..., b = ...;           // 5000 × 256 activations of two layers
///   auto r = layerwatch::similarity::svcca(a, b);
///   if (has_value(r.status)) fmt::print("SVCCA {:.3f}, {}/{} dims\n", r.value, r.kept_x, r.kept_y);
/// @endcode
///
/// To compare one snapshot with several others, build `Activations` once (activations.h).

#include "layerwatch/core/matrix.h"
#include "layerwatch/similarity/activations.h"
#include "layerwatch/similarity/minibatch_cka.h"
#include "layerwatch/similarity/options.h"
#include "layerwatch/similarity/results.h"

namespace layerwatch::similarity {

/// Canonical correlation analysis. See `ActivationPair::cca`.
CcaResult cca(MatrixRef x, MatrixRef y, const CcaOptions& options = {},
              Precision precision = Precision::kFloat64);

/// Singular vector CCA (Raghu et al. 2017). See `ActivationPair::svcca`.
CcaResult svcca(MatrixRef x, MatrixRef y, const SvccaOptions& options = {},
                Precision precision = Precision::kFloat64);

/// Projection-weighted CCA (Morcos et al. 2018). See `ActivationPair::pwcca`.
PwccaResult pwcca(MatrixRef x, MatrixRef y, const CcaOptions& options = {},
                  Precision precision = Precision::kFloat64);

/// Linear CKA (Kornblith et al. 2019), biased or debiased.
CkaResult linear_cka(MatrixRef x, MatrixRef y, const CkaOptions& options = {},
                     Precision precision = Precision::kFloat64);

/// RBF-kernel CKA (Kornblith et al. 2019). The kernels are built in float64.
CkaResult rbf_cka(MatrixRef x, MatrixRef y, const RbfCkaOptions& options = {});

/// Orthogonal Procrustes distance (Ding et al. 2021): centre, scale to unit Frobenius norm,
/// d = 2 − 2‖XᵀY‖_*; `angular` = arccos ‖XᵀY‖_*.
ProcrustesResult procrustes(MatrixRef x, MatrixRef y, Precision precision = Precision::kFloat64);

}  // namespace layerwatch::similarity
