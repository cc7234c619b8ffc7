#pragma once
// Shared, immutable-once-built state of one prepared activation matrix, plus the lazily computed
// (std::call_once) covariance and eigendecomposition that make repeated comparisons cheap.

#include <Eigen/Core>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "layerwatch/core/status.h"
#include "layerwatch/similarity/options.h"

namespace layerwatch::similarity::detail {

struct ActivationState {
  Precision precision = Precision::kFloat64;
  int64_t samples = 0;
  int64_t features = 0;
  std::vector<int64_t> dropped_constant;
  Status status = Status::kOk;
  std::string message;
  // Centred kept columns; exactly one of the two is filled, per `precision`.
  Eigen::MatrixXd centred64;
  Eigen::MatrixXf centred32;
  double squared_norm = 0;  // ‖centred‖²_F, accumulated in float64

  int64_t kept() const { return features - static_cast<int64_t>(dropped_constant.size()); }
  /// More kept features than samples: the spectrum comes from the n×n Gram matrix XXᵀ instead
  /// of the p×p covariance (same nonzero eigenvalues, far cheaper when p ≫ n), and
  /// `eigenvectors()` stays empty (only `left_basis` is available).
  bool wide() const { return kept() > samples; }

  /// XᵀX of the centred data, float64.
  const Eigen::MatrixXd& covariance();
  /// Eigenvalues (descending, clamped ≥ 0) and eigenvectors of the covariance.
  const Eigen::VectorXd& eigenvalues();
  const Eigen::MatrixXd& eigenvectors();
  bool eigen_ready() const { return eigen_done_; }
  bool eigen_ok();
  /// n×k orthonormal basis of the scores of the top-k principal directions (X V_k Λ_k^{-1/2},
  /// or the Gram eigenvectors U_k when wide). k must not exceed the numerical rank.
  Eigen::MatrixXd left_basis(int64_t k);
  /// ‖xᵢ‖² of every centred row.
  Eigen::VectorXd row_squared_norms() const;
  /// Centred data as float64 (a copy when stored as float32).
  Eigen::MatrixXd centred_as_double() const;

 private:
  void compute_eigen();
  std::once_flag covariance_once_;
  std::once_flag eigen_once_;
  Eigen::MatrixXd covariance_;
  Eigen::VectorXd eigenvalues_;
  Eigen::MatrixXd eigenvectors_;
  Eigen::MatrixXd left_vectors_;  // wide only: eigenvectors of XXᵀ, descending
  bool eigen_ok_ = false;
  bool eigen_done_ = false;
};

}  // namespace layerwatch::similarity::detail
