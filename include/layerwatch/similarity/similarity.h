#pragma once
/// @file
/// One-call similarity indices on two (samples × features) matrices, float32 or float64.
/// Columns are centred first; inputs must have the same number of rows (samples), otherwise
/// `std::invalid_argument` names both shapes. Numerical problems come back as a `Status`.
///
///   Eigen::MatrixXf a = ..., b = ...;           // 5000 × 256 activations of two layers
///   auto r = layerwatch::similarity::svcca(a, b);
///   if (has_value(r.status)) fmt::print("SVCCA {:.3f} ({} / {} dims)\n", r.value, r.kept_x,
///   r.kept_y);
///
/// To compare one snapshot with several others, build `Activations` once (activations.h).

#include "layerwatch/similarity/activations.h"
#include "layerwatch/similarity/minibatch_cka.h"
#include "layerwatch/similarity/options.h"
#include "layerwatch/similarity/results.h"

namespace layerwatch::similarity {

/// Canonical correlation analysis. See `ActivationPair::cca`.
CcaResult cca(const Eigen::Ref<const Eigen::MatrixXd>& x,
              const Eigen::Ref<const Eigen::MatrixXd>& y, const CcaOptions& options = {});
CcaResult cca(const Eigen::Ref<const Eigen::MatrixXf>& x,
              const Eigen::Ref<const Eigen::MatrixXf>& y, const CcaOptions& options = {});

/// Singular vector CCA (Raghu et al. 2017). See `ActivationPair::svcca`.
CcaResult svcca(const Eigen::Ref<const Eigen::MatrixXd>& x,
                const Eigen::Ref<const Eigen::MatrixXd>& y, const SvccaOptions& options = {});
CcaResult svcca(const Eigen::Ref<const Eigen::MatrixXf>& x,
                const Eigen::Ref<const Eigen::MatrixXf>& y, const SvccaOptions& options = {});

/// Projection-weighted CCA (Morcos et al. 2018). See `ActivationPair::pwcca`.
PwccaResult pwcca(const Eigen::Ref<const Eigen::MatrixXd>& x,
                  const Eigen::Ref<const Eigen::MatrixXd>& y, const CcaOptions& options = {});
PwccaResult pwcca(const Eigen::Ref<const Eigen::MatrixXf>& x,
                  const Eigen::Ref<const Eigen::MatrixXf>& y, const CcaOptions& options = {});

/// Linear CKA (Kornblith et al. 2019), biased or debiased.
CkaResult linear_cka(const Eigen::Ref<const Eigen::MatrixXd>& x,
                     const Eigen::Ref<const Eigen::MatrixXd>& y, const CkaOptions& options = {});
CkaResult linear_cka(const Eigen::Ref<const Eigen::MatrixXf>& x,
                     const Eigen::Ref<const Eigen::MatrixXf>& y, const CkaOptions& options = {});

/// RBF-kernel CKA (Kornblith et al. 2019).
CkaResult rbf_cka(const Eigen::Ref<const Eigen::MatrixXd>& x,
                  const Eigen::Ref<const Eigen::MatrixXd>& y, const RbfCkaOptions& options = {});
CkaResult rbf_cka(const Eigen::Ref<const Eigen::MatrixXf>& x,
                  const Eigen::Ref<const Eigen::MatrixXf>& y, const RbfCkaOptions& options = {});

/// Orthogonal Procrustes distance (Ding et al. 2021): centre, scale to unit Frobenius norm,
/// d = 2 − 2‖XᵀY‖_*; `angular` = arccos ‖XᵀY‖_*.
ProcrustesResult procrustes(const Eigen::Ref<const Eigen::MatrixXd>& x,
                            const Eigen::Ref<const Eigen::MatrixXd>& y);
ProcrustesResult procrustes(const Eigen::Ref<const Eigen::MatrixXf>& x,
                            const Eigen::Ref<const Eigen::MatrixXf>& y);

}  // namespace layerwatch::similarity
