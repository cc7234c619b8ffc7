#pragma once
// A whitening of one side's centred data Xc restricted to its top-k principal subspace: a map W
// with (Xc P W)ᵀ(Xc P W) = I on that subspace (P its orthogonal projector), kept implicit.
// Three forms:
//  - full rank (k = p): the Cholesky factor of the covariance, W = L⁻ᵀ (p³/3);
//  - few directions discarded (p − k ≤ k): P = I − V_r V_rᵀ with the r = p − k discarded
//    eigenvectors, and L the Cholesky factor of the covariance with those r eigenvalues raised
//    to λ_k, so L⁻ᵀ whitens the kept subspace and P removes the rest. Only r eigenvectors are
//    computed, where an eigenbasis would need all of them;
//  - few directions kept: the truncated eigenbasis itself, W = V_k Λ_k^{-1/2}.
// Canonical correlations are invariant to an invertible map within the kept subspace, so the
// three give the same values (min(k_x, k_y) of them) up to rounding.

#include <Eigen/Core>
#include <cstdint>
#include <memory>
#include <variant>

#include "activation_state.h"

namespace layerwatch::similarity::detail {

struct Whitening {
  /// W = L⁻ᵀ with L a lower Cholesky factor (p×p); L itself is the unwhitening.
  struct Triangular {
    Eigen::MatrixXd lower;
  };
  /// W = V_k Λ_k^{-1/2} (p×k), unwhitening V_k Λ_k^{1/2}.
  struct Eigenbasis {
    Eigen::MatrixXd factor;
    Eigen::MatrixXd unwhiten;
  };
  std::variant<Triangular, Eigenbasis> form;
  Eigen::MatrixXd discard;  // V_r (p×r), the directions P removes; empty when none
  int64_t kept = 0;         // directions whitened: p, SVCCA's k, or the numerical rank

  /// C := Wᵀ P C.
  void apply_left(Eigen::MatrixXd& c) const;
  /// C := C P W.
  void apply_right(Eigen::MatrixXd& c) const;
  /// W U: coefficients whose products with Xc give the canonical variates (for the columns of U
  /// with a nonzero correlation, which lie in the kept subspace).
  Eigen::MatrixXd coefficients(const Eigen::MatrixXd& u) const;
  /// D U with D the unwhitening (Xc P = (Xc P W) Dᵀ): the covariances ⟨Xc a, xⱼ⟩ of the
  /// variates with the centred features.
  Eigen::MatrixXd unwhitened(const Eigen::MatrixXd& u) const;
};

/// Full-rank whitening for CCA: Cholesky when the data are well conditioned, else the top
/// directions above `rank_tolerance` × the largest variance (whiten_top). Null when LAPACK
/// fails.
std::shared_ptr<const Whitening> whiten_for_cca(ActivationState& side, double rank_tolerance);

/// Whitening of the first `kept` principal directions (SVCCA's reduction), cached on `side`
/// while `kept` stays the same. Null when LAPACK fails.
std::shared_ptr<const Whitening> whiten_top(ActivationState& side, int64_t kept);

/// Number of eigenvalues above rank_tolerance × the largest.
int64_t numerical_rank(const Eigen::VectorXd& eigenvalues, double rank_tolerance);

}  // namespace layerwatch::similarity::detail
