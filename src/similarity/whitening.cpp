#include "whitening.h"

#include "linalg.h"

namespace layerwatch::similarity::detail {

namespace {

// The lifted covariance's condition number is λ₁/λ_k; above this, rounding in the Cholesky
// factor could reach the 1e-6 level of the correlations, and the eigenbasis is used instead.
constexpr double kMaxLiftedCondition = 1e8;

// C := (I − V Vᵀ) C, or C := C (I − V Vᵀ) when `right`.
void project_out(const Eigen::MatrixXd& v, Eigen::MatrixXd& c, bool right) {
  if (v.cols() == 0) return;
  if (right) {
    c.noalias() -= linalg::times(c, v) * v.transpose();
  } else {
    c.noalias() -= v * linalg::transpose_times(v, c);
  }
}

Whitening cholesky_whitening(Eigen::MatrixXd l, int64_t kept) {
  Whitening w;
  w.form = Whitening::Triangular{std::move(l)};
  w.kept = kept;
  return w;
}

std::shared_ptr<const Whitening> eigenbasis_whitening(ActivationState& side, int64_t kept) {
  Eigen::MatrixXd v;
  if (!side.eigenvectors(0, kept, v)) return nullptr;
  const Eigen::ArrayXd root = side.eigenvalues().head(kept).array().sqrt();
  auto w = std::make_shared<Whitening>();
  w->form =
      Whitening::Eigenbasis{v * (1.0 / root).matrix().asDiagonal(), v * root.matrix().asDiagonal()};
  w->kept = kept;
  return w;
}

// Cholesky of C + V_r diag(λ_k − λ_r) V_rᵀ: the kept spectrum unchanged, the discarded one
// raised to the smallest kept eigenvalue, so the factor is as well conditioned as the kept part.
std::shared_ptr<const Whitening> lifted_whitening(ActivationState& side, int64_t kept) {
  const Eigen::VectorXd& lambda = side.eigenvalues();
  const int64_t discarded = lambda.size() - kept;
  if (kept == 0 || !(lambda(kept - 1) * kMaxLiftedCondition >= lambda(0))) return nullptr;
  Eigen::MatrixXd v;
  if (!side.eigenvectors(kept, discarded, v)) return nullptr;
  Eigen::MatrixXd l = linalg::copy_of(side.covariance());
  if (discarded > 0) {
    const Eigen::VectorXd lift =
        (lambda(kept - 1) - lambda.segment(kept, discarded).array()).matrix();
    l.noalias() += linalg::times(v * lift.asDiagonal(), v.transpose());
  }
  if (!linalg::cholesky_lower(l)) return nullptr;
  auto w = std::make_shared<Whitening>(cholesky_whitening(std::move(l), kept));
  w->discard = std::move(v);
  return w;
}

}  // namespace

void Whitening::apply_left(Eigen::MatrixXd& c) const {
  project_out(discard, c, false);
  if (const auto* t = std::get_if<Triangular>(&form)) {
    linalg::solve_lower_left(t->lower, c);
  } else {
    c = linalg::transpose_times(std::get<Eigenbasis>(form).factor, c);
  }
}

void Whitening::apply_right(Eigen::MatrixXd& c) const {
  project_out(discard, c, true);
  if (const auto* t = std::get_if<Triangular>(&form)) {
    linalg::solve_lower_transposed_right(t->lower, c);
  } else {
    c = linalg::times(c, std::get<Eigenbasis>(form).factor);
  }
}

Eigen::MatrixXd Whitening::coefficients(const Eigen::MatrixXd& u) const {
  if (const auto* t = std::get_if<Triangular>(&form)) {
    Eigen::MatrixXd w = linalg::copy_of(u);
    linalg::solve_lower_transposed_left(t->lower, w);
    return w;
  }
  return linalg::times(std::get<Eigenbasis>(form).factor, u);
}

Eigen::MatrixXd Whitening::unwhitened(const Eigen::MatrixXd& u) const {
  if (const auto* t = std::get_if<Triangular>(&form)) return linalg::lower_times(t->lower, u);
  return linalg::times(std::get<Eigenbasis>(form).unwhiten, u);
}

int64_t numerical_rank(const Eigen::VectorXd& eigenvalues, double rank_tolerance) {
  if (eigenvalues.size() == 0 || eigenvalues(0) <= 0) return 0;
  const double cut = rank_tolerance * eigenvalues(0);
  int64_t rank = 0;
  while (rank < eigenvalues.size() && eigenvalues(rank) > cut) ++rank;
  return rank;
}

std::shared_ptr<const Whitening> whiten_top(ActivationState& side, int64_t kept) {
  {
    std::lock_guard<std::mutex> lock(side.whitening_mutex);
    if (side.whitening && side.whitening_kept == kept) return side.whitening;
  }
  if (!side.eigen_ok()) return nullptr;
  const int64_t discarded = side.eigenvalues().size() - kept;
  std::shared_ptr<const Whitening> w;
  if (discarded <= kept) w = lifted_whitening(side, kept);
  if (!w) w = eigenbasis_whitening(side, kept);
  if (!w) return nullptr;
  std::lock_guard<std::mutex> lock(side.whitening_mutex);
  side.whitening_kept = kept;
  side.whitening = w;
  return w;
}

std::shared_ptr<const Whitening> whiten_for_cca(ActivationState& side, double rank_tolerance) {
  // Cholesky costs p³/3 against the tridiagonal form's 4p³/3 plus eigenvectors; use it unless
  // the data are close to collinear.
  Eigen::MatrixXd l = linalg::copy_of(side.covariance());
  const double largest = l.diagonal().maxCoeff();
  if (linalg::cholesky_lower(l)) {
    // L_ii² is the variance of feature i not explained by features < i.
    const double smallest_residual = l.diagonal().array().square().minCoeff();
    if (smallest_residual > 1e-6 * largest) {
      return std::make_shared<const Whitening>(cholesky_whitening(std::move(l), side.kept()));
    }
  }
  return whiten_top(side, numerical_rank(side.eigenvalues(), rank_tolerance));
}

}  // namespace layerwatch::similarity::detail
