#pragma once
/// @file
/// Minibatch linear CKA (Nguyen et al. 2021): the unbiased HSIC of every batch is accumulated in
/// float64 and CKA is formed from the sums, so the estimate does not depend on how many batches
/// were seen (per-batch biased CKA values are never averaged).
///
/// @code
///   MinibatchCka acc;
///   for (auto& [xb, yb] : batches) acc.update(xb, yb);   // equal batch sizes, ≥ 4 rows
///   double value = acc.result().value;
/// @endcode

#include <Eigen/Core>
#include <cstdint>

#include "layerwatch/core/matrix.h"
#include "layerwatch/similarity/results.h"

namespace layerwatch::similarity {

/// Accumulates unbiased HSIC(X,Y), HSIC(X,X), HSIC(Y,Y) over equal-size batches.
class MinibatchCka {
 public:
  /// Adds one batch (b samples × p, b samples × q). The first batch fixes b (≥ 4); a batch of a
  /// different size, mismatched rows, or a change of feature width throws
  /// `std::invalid_argument`. A batch with NaN/Inf is skipped and counted (`skipped_batches()`).
  void update(MatrixRef x, MatrixRef y);

  /// CKA from the accumulated sums. Status kEmptyInput before any batch, kZeroVariance when a
  /// side's HSIC sum is not positive.
  CkaResult result() const;

  int64_t batches() const { return batches_; }
  int64_t skipped_batches() const { return skipped_; }
  double hsic_xy() const { return hsic_xy_; }  ///< Sum over batches of unbiased HSIC(X, Y).
  double hsic_xx() const { return hsic_xx_; }
  double hsic_yy() const { return hsic_yy_; }
  void reset();

 private:
  void add(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y);
  int64_t batch_size_ = 0, width_x_ = -1, width_y_ = -1;
  int64_t batches_ = 0, skipped_ = 0;
  double hsic_xy_ = 0, hsic_xx_ = 0, hsic_yy_ = 0;
};

}  // namespace layerwatch::similarity
