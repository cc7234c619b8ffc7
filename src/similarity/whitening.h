#pragma once
// A whitening of one side's centred data Xc: a map W with (Xc W)ᵀ(Xc W) = I, kept implicit.
// Either a Cholesky factor (W = L⁻ᵀ, cheap, full rank) or a truncated eigenbasis
// (W = V_k Λ_k^{-1/2}, which also serves SVCCA's reduction and rank-deficient data).

#include <Eigen/Core>
#include <cstdint>

#include "activation_state.h"

namespace layerwatch::similarity::detail {

struct Whitening {
  bool triangular = false;
  Eigen::MatrixXd factor;    // L (p×p) when triangular, otherwise V_k Λ_k^{-1/2} (p×k)
  Eigen::MatrixXd unwhiten;  // D with Xc = (Xc W) Dᵀ: L, or V_k Λ_k^{1/2}
  int64_t kept = 0;
  int64_t rank = 0;  // directions above the rank tolerance
  bool failed = false;

  /// C := Wᵀ C.
  void apply_left(Eigen::MatrixXd& c) const;
  /// C := C W.
  void apply_right(Eigen::MatrixXd& c) const;
  /// W U: coefficients whose products with Xc give the canonical variates.
  Eigen::MatrixXd coefficients(const Eigen::MatrixXd& u) const;
};

/// Full-rank whitening for CCA: Cholesky when the data are well conditioned, else the
/// eigenbasis truncated at `rank_tolerance` × the largest variance.
Whitening whiten_for_cca(ActivationState& side, double rank_tolerance);

/// Eigenbasis truncated to the first `kept` directions.
Whitening whiten_eigen(ActivationState& side, int64_t kept);

/// Number of eigenvalues above rank_tolerance × the largest.
int64_t numerical_rank(const Eigen::VectorXd& eigenvalues, double rank_tolerance);

}  // namespace layerwatch::similarity::detail
