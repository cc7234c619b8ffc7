#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "activation_state.h"
#include "kernels.h"
#include "layerwatch/similarity/activations.h"
#include "linalg.h"
#include "whitening.h"

namespace layerwatch::similarity {

namespace {

// XᵀY of the centred data in float64, computed on first use and shared by the pair's indices.
class CrossCovariance {
 public:
  CrossCovariance(detail::ActivationState& x, detail::ActivationState& y) : x_(x), y_(y) {}
  const Eigen::MatrixXd& get() {
    if (!ready_) {
      // Both sides were prepared in the same precision (checked by ActivationPair).
      value_ = x_.centred.visit([&](const auto& cx) {
        using Scalar = typename std::decay_t<decltype(cx)>::Scalar;
        return linalg::to_double(linalg::transpose_times(cx, y_.centred.get<Scalar>()));
      });
      ready_ = true;
    }
    return value_;
  }

 private:
  detail::ActivationState& x_;
  detail::ActivationState& y_;
  bool ready_ = false;
  Eigen::MatrixXd value_;
};

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Fills the shared fields of a result and reports whether both sides are usable.
bool start_result(ResultBase& result, const Activations& x, const Activations& y) {
  result.n_samples = x.samples();
  result.dropped_x = x.dropped_constant();
  result.dropped_y = y.dropped_constant();
  for (const auto* side : {&x, &y}) {
    if (!has_value(side->status())) {
      result.status = side->status();
      result.message = fmt::format("{}: {}", side == &x ? "x" : "y", side->message());
      return false;
    }
  }
  if (!result.dropped_x.empty() || !result.dropped_y.empty()) {
    result.message = fmt::format("dropped constant features: {} of x, {} of y",
                                 result.dropped_x.size(), result.dropped_y.size());
  }
  return true;
}

void append_message(ResultBase& result, const std::string& text) {
  if (!result.message.empty()) result.message += "; ";
  result.message += text;
}

// CCA-family indices are invariant to invertible linear maps, so with width ≥ n − 1 they are 1
// for any data (Kornblith et al. 2019, Theorem 1).
bool check_cca_samples(ResultBase& result, int64_t width_x, int64_t width_y) {
  const int64_t n = result.n_samples;
  const int64_t width = std::max(width_x, width_y);
  if (n - 1 <= width) {
    result.status = Status::kTooFewSamples;
    append_message(result,
                   fmt::format("{} samples for {} features: CCA-family indices are 1 for any "
                               "data when features ≥ samples − 1; use 5-10× more samples than "
                               "features (or reduce dimensions, e.g. SVCCA, conv spatial layout)",
                               n, width));
    return false;
  }
  if (n < 5 * width) {
    append_message(result,
                   fmt::format("only {:.1f} samples per feature; CCA-family values are biased "
                               "upwards below 5-10 samples per feature",
                               static_cast<double>(n) / static_cast<double>(width)));
  }
  return true;
}

void finish_correlations(CcaResult& result, Eigen::VectorXd rho) {
  rho = rho.cwiseMax(0.0).cwiseMin(1.0);
  result.value = rho.size() ? rho.mean() : kNaN;
  result.r2 = rho.size() ? rho.squaredNorm() / static_cast<double>(rho.size()) : kNaN;
  result.rho = std::move(rho);
}

// Number of leading directions meeting SVCCA's criterion.
int64_t svcca_dims(const Eigen::VectorXd& eigenvalues, const SvccaOptions& options, int64_t rank) {
  if (rank == 0) return 0;
  if (options.reduction() == SvccaReduction::kFixedDims) {
    return std::min<int64_t>(options.dims(), rank);
  }
  const Eigen::VectorXd mass = options.reduction() == SvccaReduction::kSingularValueMass
                                   ? eigenvalues.head(rank).cwiseSqrt().eval()
                                   : eigenvalues.head(rank);
  const double target = options.keep() * mass.sum();
  double running = 0;
  for (int64_t k = 0; k < rank; ++k) {
    running += mass(k);
    if (running >= target) return k + 1;
  }
  return rank;
}

}  // namespace

struct ActivationPair::Cache {
  explicit Cache(detail::ActivationState& x, detail::ActivationState& y) : cross(x, y) {}
  CrossCovariance cross;
};

ActivationPair::ActivationPair(Activations x, Activations y)
    : x_(std::move(x)), y_(std::move(y)), cache_(std::make_unique<Cache>(*x_.state_, *y_.state_)) {
  if (x_.samples() != y_.samples()) {
    throw std::invalid_argument(fmt::format(
        "x is {}×{} but y is {}×{}: both must have the same number of rows (samples), one row "
        "per probe example",
        x_.samples(), x_.features(), y_.samples(), y_.features()));
  }
  if (x_.precision() != y_.precision()) {
    throw std::invalid_argument(
        fmt::format("x was prepared in {} but y in {}: use the same precision for both",
                    to_string(x_.precision()), to_string(y_.precision())));
  }
}

ActivationPair::~ActivationPair() = default;
ActivationPair::ActivationPair(ActivationPair&&) noexcept = default;
ActivationPair& ActivationPair::operator=(ActivationPair&&) noexcept = default;

namespace {

// ρ = singular values of Wxᵀ Px Cxy Py Wy, the first min(kept x, kept y) of them (the rest are
// zero by construction); optionally the singular vectors.
bool canonical_correlations(const Eigen::MatrixXd& cross, const detail::Whitening& wx,
                            const detail::Whitening& wy, Eigen::VectorXd& rho, Eigen::MatrixXd* u,
                            Eigen::MatrixXd* v) {
  Eigen::MatrixXd m = linalg::copy_of(cross);
  wx.apply_left(m);
  wy.apply_right(m);
  if (!linalg::singular_values(m, rho, u, v)) return false;
  const int64_t count = std::min<int64_t>(rho.size(), std::min(wx.kept, wy.kept));
  rho.conservativeResize(count);
  if (u) u->conservativeResize(Eigen::NoChange, count);
  if (v) v->conservativeResize(Eigen::NoChange, count);
  return true;
}

// Full-rank CCA shared by cca() and pwcca(): sample check, whitening of both sides, and the
// correlations (with singular vectors when asked). Returns false with the status set on failure.
struct CanonicalSolution {
  std::shared_ptr<const detail::Whitening> wx, wy;
  Eigen::VectorXd rho;
  Eigen::MatrixXd u, v;
};

bool solve_cca(ResultBase& result, detail::ActivationState& sx, detail::ActivationState& sy,
               double rank_tolerance, bool want_vectors, CrossCovariance& cross,
               CanonicalSolution& out) {
  if (!check_cca_samples(result, sx.kept(), sy.kept())) return false;
  out.wx = detail::whiten_for_cca(sx, rank_tolerance);
  out.wy = detail::whiten_for_cca(sy, rank_tolerance);
  if (!out.wx || !out.wy) {
    result.status = Status::kError;
    append_message(result, "eigendecomposition did not converge");
    return false;
  }
  if (out.wx->kept < sx.kept() || out.wy->kept < sy.kept()) {
    result.status = Status::kRankDeficient;
    append_message(result, fmt::format("linearly dependent features: rank {} of {} (x), {} of {} "
                                       "(y); correlations are over the independent part",
                                       out.wx->kept, sx.kept(), out.wy->kept, sy.kept()));
  }
  if (!canonical_correlations(cross.get(), *out.wx, *out.wy, out.rho,
                              want_vectors ? &out.u : nullptr, want_vectors ? &out.v : nullptr)) {
    result.status = Status::kError;
    append_message(result, "SVD did not converge");
    return false;
  }
  return true;
}

}  // namespace

CcaResult ActivationPair::cca(const CcaOptions& options) {
  validate_options(options);
  CcaResult result;
  if (!start_result(result, x_, y_)) return result;
  auto& sx = *x_.state_;
  auto& sy = *y_.state_;
  const bool want = options.compute_coefficients();
  CanonicalSolution solution;
  if (!solve_cca(result, sx, sy, options.rank_tolerance(), want, cache_->cross, solution)) {
    return result;
  }
  result.kept_x = solution.wx->kept;
  result.kept_y = solution.wy->kept;
  if (want) {
    result.coef_x = solution.wx->coefficients(solution.u);
    result.coef_y = solution.wy->coefficients(solution.v);
  }
  finish_correlations(result, std::move(solution.rho));
  return result;
}

CcaResult ActivationPair::svcca(const SvccaOptions& options) {
  validate_options(options);
  CcaResult result;
  if (!start_result(result, x_, y_)) return result;
  auto& sx = *x_.state_;
  auto& sy = *y_.state_;
  if (!sx.eigen_ok() || !sy.eigen_ok()) {
    result.status = Status::kError;
    append_message(result, "eigendecomposition did not converge");
    return result;
  }
  const int64_t rank_x = detail::numerical_rank(sx.eigenvalues(), options.rank_tolerance());
  const int64_t rank_y = detail::numerical_rank(sy.eigenvalues(), options.rank_tolerance());
  const int64_t kx = svcca_dims(sx.eigenvalues(), options, rank_x);
  const int64_t ky = svcca_dims(sy.eigenvalues(), options, rank_y);
  result.kept_x = kx;
  result.kept_y = ky;
  if (!check_cca_samples(result, kx, ky)) return result;
  if (sx.wide() || sy.wide()) {
    // More features than samples on a side: correlate orthonormal bases of the reduced data
    // directly (n·k products) instead of forming p×q cross-covariances.
    Eigen::MatrixXd basis_x, basis_y;
    Eigen::VectorXd rho;
    if (!sx.left_basis(kx, basis_x) || !sy.left_basis(ky, basis_y) ||
        !linalg::singular_values(linalg::transpose_times(basis_x, basis_y), rho)) {
      result.status = Status::kError;
      append_message(result, "SVD did not converge");
      return result;
    }
    finish_correlations(result, std::move(rho));
    return result;
  }
  const auto wx = detail::whiten_top(sx, kx);
  const auto wy = detail::whiten_top(sy, ky);
  if (!wx || !wy) {
    result.status = Status::kError;
    append_message(result, "eigenvectors did not converge");
    return result;
  }
  const auto& cross = cache_->cross.get();
  Eigen::VectorXd rho;
  if (!canonical_correlations(cross, *wx, *wy, rho, nullptr, nullptr)) {
    result.status = Status::kError;
    append_message(result, "SVD did not converge");
    return result;
  }
  finish_correlations(result, std::move(rho));
  return result;
}

PwccaResult ActivationPair::pwcca(const CcaOptions& options) {
  validate_options(options);
  PwccaResult result;
  if (!start_result(result, x_, y_)) return result;
  auto& sx = *x_.state_;
  auto& sy = *y_.state_;
  CanonicalSolution solution;
  if (!solve_cca(result, sx, sy, options.rank_tolerance(), true, cache_->cross, solution)) {
    return result;
  }
  const auto& [wx, wy, rho_raw, u, v] = solution;
  Eigen::VectorXd rho = rho_raw;
  // Weights from the narrower side (Morcos et al.): αᵢ = Σⱼ |⟨hᵢ, xⱼ⟩| with hᵢ the unit-norm
  // canonical variates and xⱼ the centred features; ⟨h, x⟩ = (D U)ᵀ with D the unwhitening.
  result.weighted_by_x = sx.kept() <= sy.kept();
  const Eigen::MatrixXd projections = result.weighted_by_x ? wx->unwhitened(u) : wy->unwhitened(v);
  Eigen::VectorXd alpha = projections.cwiseAbs().colwise().sum().transpose();
  rho = rho.cwiseMax(0.0).cwiseMin(1.0);
  const double total = alpha.sum();
  if (!(total > 0)) {
    result.status = Status::kZeroVariance;
    append_message(result, "projection weights are all zero");
    return result;
  }
  result.weights = alpha / total;
  result.value = result.weights.dot(rho);
  result.rho = std::move(rho);
  return result;
}

CkaResult ActivationPair::linear_cka(const CkaOptions& options) {
  CkaResult result;
  if (!start_result(result, x_, y_)) return result;
  const int64_t n = result.n_samples;
  const int64_t needed = options.debiased() ? 4 : 2;
  if (n < needed) {
    result.status = Status::kTooFewSamples;
    append_message(result, fmt::format("{} samples: {} CKA needs at least {}", n,
                                       options.debiased() ? "debiased" : "linear", needed));
    return result;
  }
  auto& sx = *x_.state_;
  auto& sy = *y_.state_;
  double cross2, xx2, yy2;
  // Feature space costs n·(p+q)², sample space n²·(p+q): pick the cheaper.
  if (sx.kept() + sy.kept() <= n) {
    cross2 = cache_->cross.get().squaredNorm();
    xx2 = sx.covariance().squaredNorm();
    yy2 = sy.covariance().squaredNorm();
  } else {
    const Eigen::MatrixXd k = sx.gram_of_rows();
    const Eigen::MatrixXd l = sy.gram_of_rows();
    cross2 = (k.array() * l.array()).sum();
    xx2 = k.squaredNorm();
    yy2 = l.squaredNorm();
  }
  if (options.debiased()) {
    const Eigen::VectorXd r = sx.row_squared_norms();
    const Eigen::VectorXd s = sy.row_squared_norms();
    cross2 = detail::debiased_hsic_from_features(cross2, r, s);
    xx2 = detail::debiased_hsic_from_features(xx2, r, r);
    yy2 = detail::debiased_hsic_from_features(yy2, s, s);
    if (!(xx2 > 0 && yy2 > 0)) {
      result.status = Status::kZeroVariance;
      append_message(result, "unbiased self-HSIC is not positive (too few distinct samples)");
      return result;
    }
    result.value = cross2 / std::sqrt(xx2 * yy2);
  } else {
    result.value = cross2 / std::sqrt(xx2 * yy2);
  }
  return result;
}

CkaResult ActivationPair::rbf_cka(const RbfCkaOptions& options) {
  validate_options(options);
  CkaResult result;
  if (!start_result(result, x_, y_)) return result;
  const int64_t n = result.n_samples;
  if (n > options.max_samples()) {
    result.status = Status::kTooLarge;
    append_message(result, fmt::format("{} samples need {:.1f} GiB of n×n kernels, above the "
                                       "max_samples limit {}; subsample or raise the limit",
                                       n, 3.0 * 8.0 * n * n / (1 << 30), options.max_samples()));
    return result;
  }
  const int64_t needed = options.debiased() ? 4 : 2;
  if (n < needed) {
    result.status = Status::kTooFewSamples;
    append_message(result, fmt::format("{} samples: RBF CKA needs at least {}", n, needed));
    return result;
  }
  Eigen::MatrixXd k, l;
  if (!detail::rbf_gram(x_.state_->centred_as_double(), options.threshold(), k) ||
      !detail::rbf_gram(y_.state_->centred_as_double(), options.threshold(), l)) {
    result.status = Status::kZeroVariance;
    append_message(result, "median pairwise distance is zero: most samples are identical");
    return result;
  }
  if (options.debiased()) {
    detail::u_centre_gram(k);
    detail::u_centre_gram(l);
  } else {
    detail::centre_gram(k);
    detail::centre_gram(l);
  }
  const double norms = k.norm() * l.norm();
  if (!(norms > 0)) {
    result.status = Status::kZeroVariance;
    append_message(result, "a centred kernel is zero");
    return result;
  }
  result.value = (k.array() * l.array()).sum() / norms;
  return result;
}

ProcrustesResult ActivationPair::procrustes() {
  ProcrustesResult result;
  if (!start_result(result, x_, y_)) return result;
  auto& sx = *x_.state_;
  auto& sy = *y_.state_;
  const auto& cross = cache_->cross.get();
  Eigen::VectorXd sigma;
  if (!linalg::singular_values(cross, sigma)) {
    result.status = Status::kError;
    append_message(result, "SVD did not converge");
    return result;
  }
  const double nuclear = std::min(1.0, sigma.sum() / std::sqrt(sx.squared_norm * sy.squared_norm));
  result.value = std::clamp(2.0 - 2.0 * nuclear, 0.0, 2.0);
  result.angular = std::acos(nuclear);
  return result;
}

}  // namespace layerwatch::similarity
