#include "whitening.h"

#include "linalg.h"

namespace layerwatch::similarity::detail {

void Whitening::apply_left(Eigen::MatrixXd& c) const {
  if (triangular) {
    linalg::solve_lower_left(factor, c);
  } else {
    c = linalg::transpose_times(factor, c);
  }
}

void Whitening::apply_right(Eigen::MatrixXd& c) const {
  if (triangular) {
    linalg::solve_lower_transposed_right(factor, c);
  } else {
    c = linalg::times(c, factor);
  }
}

Eigen::MatrixXd Whitening::coefficients(const Eigen::MatrixXd& u) const {
  if (!triangular) return linalg::times(factor, u);
  Eigen::MatrixXd w = u;
  linalg::solve_lower_transposed_left(factor, w);
  return w;
}

int64_t numerical_rank(const Eigen::VectorXd& eigenvalues, double rank_tolerance) {
  if (eigenvalues.size() == 0 || eigenvalues(0) <= 0) return 0;
  const double cut = rank_tolerance * eigenvalues(0);
  int64_t rank = 0;
  while (rank < eigenvalues.size() && eigenvalues(rank) > cut) ++rank;
  return rank;
}

Whitening whiten_eigen(ActivationState& side, int64_t kept) {
  Whitening w;
  if (!side.eigen_ok()) {
    w.failed = true;
    return w;
  }
  const Eigen::VectorXd& lambda = side.eigenvalues();
  w.kept = kept;
  w.rank = kept;
  const auto v = side.eigenvectors().leftCols(kept);
  const Eigen::ArrayXd root = lambda.head(kept).array().sqrt();
  w.factor = v * (1.0 / root).matrix().asDiagonal();
  w.unwhiten = v * root.matrix().asDiagonal();
  return w;
}

Whitening whiten_for_cca(ActivationState& side, double rank_tolerance) {
  // Cholesky costs p³/3 against the eigendecomposition's ~9p³; use it unless the data are close
  // to collinear, or the eigendecomposition is already cached (a factorized snapshot).
  if (!side.eigen_ready()) {
    Eigen::MatrixXd l = side.covariance();
    const double largest = l.diagonal().maxCoeff();
    if (linalg::cholesky_lower(l)) {
      // L_ii² is the variance of feature i not explained by features < i.
      const double smallest_residual = l.diagonal().array().square().minCoeff();
      if (smallest_residual > 1e-6 * largest) {
        Whitening w;
        w.triangular = true;
        w.kept = w.rank = l.rows();
        w.unwhiten = l;
        w.factor = std::move(l);
        return w;
      }
    }
  }
  if (!side.eigen_ok()) {
    Whitening w;
    w.failed = true;
    return w;
  }
  Whitening w = whiten_eigen(side, numerical_rank(side.eigenvalues(), rank_tolerance));
  return w;
}

}  // namespace layerwatch::similarity::detail
