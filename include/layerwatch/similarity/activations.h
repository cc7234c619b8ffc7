#pragma once
/// @file
/// `Activations`: one (samples × features) matrix prepared once for any number of comparisons,
/// and `ActivationPair`: two of them on the same samples, computing every index while sharing
/// the expensive covariance products.
///
/// Preparing centres the columns, drops constant features and checks for NaN/Inf. The
/// covariance XᵀX, its tridiagonal factorization with all eigenvalues, and the whitening of the
/// last SVCCA dimension asked for are computed at most once per `Activations` (lazily,
/// thread-safe), so comparing a snapshot with several others (its predecessor, the final
/// snapshot, …) pays its own factorization once:
///
/// @code
///   Activations previous(prev_matrix), current(cur_matrix);
///   current.factorize();                        // optional: do the work now
///   auto a = ActivationPair(previous, current).svcca();
///   auto b = ActivationPair(current, final_snapshot).svcca();   // reuses current's factors
/// @endcode

#include <Eigen/Core>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "layerwatch/core/matrix.h"
#include "layerwatch/core/status.h"
#include "layerwatch/similarity/options.h"
#include "layerwatch/similarity/results.h"

namespace layerwatch::similarity {

namespace detail {
struct ActivationState;
}  // namespace detail

/// One activation matrix, centred, with its covariance factorization cached.
/// Cheap to copy (copies share the same prepared data). Immutable once built.
class Activations {
 public:
  /// Prepares `x` (n samples × p features, float32 or float64), with its products in
  /// `precision` (float64 by default, whatever the input's type). Never throws for bad data:
  /// NaN/Inf, an empty matrix or all-constant features are reported by `status()` and
  /// `message()`.
  explicit Activations(MatrixRef x, Precision precision = Precision::kFloat64);

  int64_t samples() const;                               ///< n.
  int64_t features() const;                              ///< p, the original width.
  int64_t kept_features() const;                         ///< p minus the dropped constant columns.
  const std::vector<int64_t>& dropped_constant() const;  ///< Indices of constant columns.
  Precision precision() const;
  Status status() const;  ///< kOk, kNonFinite, kEmptyInput or kZeroVariance.
  const std::string& message() const;

  /// Computes and caches the covariance, its tridiagonal factorization and all its eigenvalues
  /// now (otherwise done on first use). Safe to call from several threads.
  void factorize() const;

  /// Singular values of the centred matrix, descending: min(n, kept features) of them (computes
  /// the factorization if needed).
  Eigen::VectorXd singular_values() const;

 private:
  friend class ActivationPair;
  std::shared_ptr<detail::ActivationState> state_;  // shared by copies
};

/// Two activation matrices over the same samples. Computes any index; the cross-covariance
/// XᵀY is computed once and shared between the indices of one pair.
class ActivationPair {
 public:
  /// Throws `std::invalid_argument` naming both shapes if the sample counts differ, or if the
  /// two were prepared with different precisions.
  ActivationPair(Activations x, Activations y);
  ~ActivationPair();
  ActivationPair(ActivationPair&&) noexcept;
  ActivationPair& operator=(ActivationPair&&) noexcept;

  /// CCA: all canonical correlations, ρ̄ (`value`) and R²_CCA.
  CcaResult cca(const CcaOptions& options = {});
  /// SVCCA: SVD reduction of each side, then CCA; `value` is ρ̄ over the kept directions.
  CcaResult svcca(const SvccaOptions& options = {});
  /// PWCCA (Morcos et al. 2018), weighted by the narrower side's canonical variates.
  PwccaResult pwcca(const CcaOptions& options = {});
  /// Linear CKA, biased or debiased.
  CkaResult linear_cka(const CkaOptions& options = {});
  /// RBF-kernel CKA.
  CkaResult rbf_cka(const RbfCkaOptions& options = {});
  /// Orthogonal Procrustes distance.
  ProcrustesResult procrustes();

  const Activations& x() const { return x_; }
  const Activations& y() const { return y_; }

 private:
  struct Cache;
  Activations x_;
  Activations y_;
  std::unique_ptr<Cache> cache_;
};

}  // namespace layerwatch::similarity
