#pragma once
// Shared, immutable-once-built state of one prepared activation matrix, plus the lazily computed
// (std::call_once) covariance, its tridiagonal factorization with all eigenvalues, and the last
// whitening asked for, which make repeated comparisons cheap.

#include <Eigen/Core>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "layerwatch/core/matrix.h"
#include "layerwatch/core/status.h"
#include "layerwatch/similarity/options.h"
#include "linalg.h"

namespace layerwatch::similarity::detail {

struct Whitening;

struct ActivationState {
  Precision precision = Precision::kFloat64;
  int64_t samples = 0;
  int64_t features = 0;
  std::vector<int64_t> dropped_constant;
  Status status = Status::kOk;
  std::string message;
  // Centred kept columns, float32 or float64 per `precision`.
  Matrix centred;
  double squared_norm = 0;  // ‖centred‖²_F, accumulated in float64

  int64_t kept() const { return features - static_cast<int64_t>(dropped_constant.size()); }
  /// More kept features than samples: the spectrum comes from the n×n Gram matrix XXᵀ instead
  /// of the p×p covariance (same nonzero eigenvalues, far cheaper when p ≫ n), and
  /// `eigenvectors()` stays empty (only `left_basis` is available).
  bool wide() const { return kept() > samples; }

  /// XᵀX of the centred data, float64.
  const Eigen::MatrixXd& covariance();
  /// Eigenvalues of the covariance (descending, clamped ≥ 0); the first call factorizes.
  const Eigen::VectorXd& eigenvalues();
  /// Eigenvectors number first … first + count − 1 in the descending order of `eigenvalues()`
  /// (p×count), from the cached factorization; O(p²·count). Not for wide data. False on a
  /// LAPACK failure.
  bool eigenvectors(int64_t first, int64_t count, Eigen::MatrixXd& vectors);
  bool eigen_ok();
  /// n×k orthonormal basis of the scores of the top-k principal directions (X V_k Λ_k^{-1/2},
  /// or the Gram eigenvectors U_k when wide). k must not exceed the numerical rank. False on a
  /// LAPACK failure.
  bool left_basis(int64_t k, Eigen::MatrixXd& basis);
  /// ‖xᵢ‖² of every centred row.
  Eigen::VectorXd row_squared_norms() const;
  /// Centred data as float64 (a copy when stored as float32).
  Eigen::MatrixXd centred_as_double() const;
  /// XXᵀ of the centred data (n×n), float64.
  Eigen::MatrixXd gram_of_rows() const;

  /// The last top-k whitening built for this side (see whiten_top), reused while k stays the
  /// same: each snapshot is compared with several others at the same SVCCA dimension.
  std::mutex whitening_mutex;
  int64_t whitening_kept = -1;
  std::shared_ptr<const Whitening> whitening;

 private:
  void compute_eigen();
  std::once_flag covariance_once_;
  std::once_flag eigen_once_;
  Eigen::MatrixXd covariance_;
  Eigen::VectorXd eigenvalues_;
  linalg::Tridiagonal tridiagonal_;  // not wide: the covariance, tridiagonalized
  Eigen::MatrixXd left_vectors_;     // wide only: eigenvectors of XXᵀ, descending
  bool eigen_ok_ = false;
};

}  // namespace layerwatch::similarity::detail
