#include "layerwatch/similarity/activations.h"

#include <fmt/format.h>

#include <cmath>

#include "activation_state.h"
#include "linalg.h"

namespace layerwatch::similarity {
namespace detail {

const Eigen::MatrixXd& ActivationState::covariance() {
  std::call_once(covariance_once_, [this] {
    covariance_ = precision == Precision::kFloat32
                      ? linalg::gram_of_columns(centred32).cast<double>().eval()
                      : linalg::gram_of_columns(centred64);
  });
  return covariance_;
}

void ActivationState::compute_eigen() {
  Eigen::VectorXd ascending;
  Eigen::MatrixXd vectors;
  if (wide()) {
    const Eigen::MatrixXd gram = precision == Precision::kFloat32
                                     ? linalg::gram_of_rows(centred32).cast<double>().eval()
                                     : linalg::gram_of_rows(centred64);
    eigen_ok_ = linalg::symmetric_eigen(gram, ascending, vectors);
    if (eigen_ok_) left_vectors_ = vectors.rowwise().reverse();
  } else {
    eigen_ok_ = linalg::symmetric_eigen(covariance(), ascending, vectors);
    if (eigen_ok_) eigenvectors_ = vectors.rowwise().reverse();
  }
  if (eigen_ok_) eigenvalues_ = ascending.reverse().cwiseMax(0.0);
  eigen_done_ = true;
}

Eigen::MatrixXd ActivationState::left_basis(int64_t k) {
  eigen_ok();
  if (wide()) return left_vectors_.leftCols(k);
  const Eigen::VectorXd inverse_scale = eigenvalues_.head(k).cwiseSqrt().cwiseInverse();
  if (precision == Precision::kFloat32) {
    const Eigen::MatrixXf v = eigenvectors_.leftCols(k).cast<float>();
    return (centred32 * v).cast<double>() * inverse_scale.asDiagonal();
  }
  return linalg::times(centred64, eigenvectors_.leftCols(k)) * inverse_scale.asDiagonal();
}

const Eigen::VectorXd& ActivationState::eigenvalues() {
  std::call_once(eigen_once_, [this] { compute_eigen(); });
  return eigenvalues_;
}

const Eigen::MatrixXd& ActivationState::eigenvectors() {
  std::call_once(eigen_once_, [this] { compute_eigen(); });
  return eigenvectors_;
}

bool ActivationState::eigen_ok() {
  std::call_once(eigen_once_, [this] { compute_eigen(); });
  return eigen_ok_;
}

Eigen::VectorXd ActivationState::row_squared_norms() const {
  if (precision == Precision::kFloat32) {
    return centred32.cast<double>().rowwise().squaredNorm();
  }
  return centred64.rowwise().squaredNorm();
}

Eigen::MatrixXd ActivationState::centred_as_double() const {
  return precision == Precision::kFloat32 ? centred32.cast<double>().eval() : centred64;
}

namespace {

// Centres the columns in one pass per column, in float64, dropping exactly-constant columns
// (dead units) and rejecting non-finite values. The copy into the working precision is the only
// pass over the data besides the products themselves.
template <typename Scalar>
std::shared_ptr<ActivationState> prepare(
    const Eigen::Ref<const Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>>& x,
    Precision precision) {
  auto state = std::make_shared<ActivationState>();
  state->precision = precision;
  state->samples = x.rows();
  state->features = x.cols();
  if (x.rows() == 0 || x.cols() == 0) {
    state->status = Status::kEmptyInput;
    state->message = fmt::format("input is empty ({}×{}): need at least one sample and feature",
                                 x.rows(), x.cols());
    return state;
  }
  const Eigen::Index n = x.rows();
  // Whole-column Eigen reductions vectorise; a column (n values) stays in cache between them.
  if (!x.allFinite()) {
    int64_t non_finite = 0;
    Eigen::Index first_row = -1, first_col = -1;
    for (Eigen::Index j = 0; j < x.cols(); ++j) {
      for (Eigen::Index i = 0; i < n; ++i) {
        if (std::isfinite(x(i, j))) continue;
        if (non_finite++ == 0) {
          first_row = i;
          first_col = j;
        }
      }
    }
    state->status = Status::kNonFinite;
    state->message = fmt::format(
        "input has {} non-finite value(s) (NaN or Inf), first at row {}, column {}; "
        "check the activations or the probe inputs",
        non_finite, first_row, first_col);
    return state;
  }
  std::vector<double> means(x.cols());
  std::vector<Eigen::Index> kept;
  kept.reserve(x.cols());
  for (Eigen::Index j = 0; j < x.cols(); ++j) {
    const auto column = x.col(j);
    means[j] = column.template cast<double>().sum() / static_cast<double>(n);
    if (column.minCoeff() == column.maxCoeff()) {
      state->dropped_constant.push_back(j);  // exactly constant: a dead unit
    } else {
      kept.push_back(j);
    }
  }
  if (kept.empty()) {
    state->status = Status::kZeroVariance;
    state->message = fmt::format("all {} features are constant: nothing to compare", x.cols());
    return state;
  }
  const auto fill = [&](auto& out) {
    using Out = typename std::decay_t<decltype(out)>::Scalar;
    out.resize(n, static_cast<Eigen::Index>(kept.size()));
    double squared = 0;
    for (size_t k = 0; k < kept.size(); ++k) {
      auto dest = out.col(static_cast<Eigen::Index>(k));
      const auto centred = x.col(kept[k]).template cast<double>().array() - means[kept[k]];
      dest = centred.template cast<Out>().matrix();
      squared += centred.square().sum();
    }
    state->squared_norm = squared;
  };
  if (precision == Precision::kFloat32) {
    fill(state->centred32);
  } else {
    fill(state->centred64);
  }
  return state;
}

}  // namespace
}  // namespace detail

Activations::Activations(const Eigen::Ref<const Eigen::MatrixXd>& x, Precision precision)
    : state_(detail::prepare<double>(x, precision)) {}

Activations::Activations(const Eigen::Ref<const Eigen::MatrixXf>& x, Precision precision)
    : state_(detail::prepare<float>(x, precision)) {}

int64_t Activations::samples() const { return state_->samples; }
int64_t Activations::features() const { return state_->features; }
int64_t Activations::kept_features() const { return state_->kept(); }
const std::vector<int64_t>& Activations::dropped_constant() const {
  return state_->dropped_constant;
}
Precision Activations::precision() const { return state_->precision; }
Status Activations::status() const { return state_->status; }
const std::string& Activations::message() const { return state_->message; }

void Activations::factorize() const {
  if (has_value(state_->status)) state_->eigenvalues();
}

Eigen::VectorXd Activations::singular_values() const {
  if (!has_value(state_->status)) return {};
  return state_->eigenvalues().cwiseSqrt();
}

}  // namespace layerwatch::similarity
