#include "layerwatch/similarity/activations.h"

#include <fmt/format.h>

#include <cmath>
#include <thread>
#include <vector>

#include "activation_state.h"
#include "linalg.h"

namespace layerwatch::similarity {
namespace detail {

const Eigen::MatrixXd& ActivationState::covariance() {
  std::call_once(covariance_once_, [this] {
    covariance_ =
        centred.visit([](const auto& c) { return linalg::to_double(linalg::gram_of_columns(c)); });
  });
  return covariance_;
}

Eigen::MatrixXd ActivationState::gram_of_rows() const {
  return centred.visit([](const auto& c) { return linalg::to_double(linalg::gram_of_rows(c)); });
}

void ActivationState::compute_eigen() {
  Eigen::VectorXd ascending;
  if (wide()) {
    const Eigen::MatrixXd gram = gram_of_rows();
    Eigen::MatrixXd vectors;
    eigen_ok_ = linalg::symmetric_eigen(gram, ascending, vectors);
    if (eigen_ok_) left_vectors_ = vectors.rowwise().reverse();
  } else {
    // Only the eigenvalues now; eigenvectors come per range from the tridiagonal form, since
    // SVCCA needs just the few directions it discards (or the few it keeps).
    eigen_ok_ = linalg::tridiagonalize(covariance(), tridiagonal_, ascending);
  }
  if (eigen_ok_) eigenvalues_ = ascending.reverse().cwiseMax(0.0);
}

bool ActivationState::eigenvectors(int64_t first, int64_t count, Eigen::MatrixXd& vectors) {
  if (!eigen_ok() || wide()) return false;
  const int64_t p = eigenvalues_.size();
  if (first < 0 || count < 0 || first + count > p) return false;
  // Descending index i is ascending index p − 1 − i.
  if (!linalg::tridiagonal_eigenvectors(tridiagonal_, p - first - count, count, vectors)) {
    return false;
  }
  vectors = vectors.rowwise().reverse().eval();
  return true;
}

bool ActivationState::left_basis(int64_t k, Eigen::MatrixXd& basis) {
  if (!eigen_ok()) return false;
  if (wide()) {
    basis = left_vectors_.leftCols(k);
    return true;
  }
  Eigen::MatrixXd v;
  if (!eigenvectors(0, k, v)) return false;
  const Eigen::VectorXd inverse_scale = eigenvalues_.head(k).cwiseSqrt().cwiseInverse();
  basis = centred.visit([&](const auto& c) {
    using Scalar = typename std::decay_t<decltype(c)>::Scalar;
    const linalg::Matrix<Scalar> directions = v.cast<Scalar>();
    return linalg::to_double(linalg::times(c, directions));
  });
  basis *= inverse_scale.asDiagonal();
  return true;
}

const Eigen::VectorXd& ActivationState::eigenvalues() {
  std::call_once(eigen_once_, [this] { compute_eigen(); });
  return eigenvalues_;
}

bool ActivationState::eigen_ok() {
  std::call_once(eigen_once_, [this] { compute_eigen(); });
  return eigen_ok_;
}

Eigen::VectorXd ActivationState::row_squared_norms() const {
  return centred.visit([](const auto& c) -> Eigen::VectorXd {
    return c.template cast<double>().rowwise().squaredNorm();
  });
}

Eigen::MatrixXd ActivationState::centred_as_double() const {
  return centred.visit([](const auto& c) -> Eigen::MatrixXd { return c.template cast<double>(); });
}

namespace {

// Large inputs are centred by two threads, each on half of the columns (the copy is memory
// bound, and one core does not saturate memory bandwidth); small ones by the caller alone.
constexpr Eigen::Index kParallelCentringElements = Eigen::Index{1} << 20;

template <typename Input>
std::string non_finite_message(const Input& x) {
  int64_t non_finite = 0;
  Eigen::Index first_row = -1, first_col = -1;
  for (Eigen::Index j = 0; j < x.cols(); ++j) {
    for (Eigen::Index i = 0; i < x.rows(); ++i) {
      if (std::isfinite(x(i, j))) continue;
      if (non_finite++ == 0) {
        first_row = i;
        first_col = j;
      }
    }
  }
  if (non_finite == 0) return "";
  return fmt::format(
      "input has {} non-finite value(s) (NaN or Inf), first at row {}, column {}; "
      "check the activations or the probe inputs",
      non_finite, first_row, first_col);
}

// Centres the columns [begin, end) of `x` into the same columns of `out`, in float64, in one
// pass per column while the column is in cache: mean, constancy, then the centred copy.
// Returns false when a column sum is not finite (NaN or Inf somewhere, checked exactly later).
template <typename Input, typename Out>
bool centre_columns(const Input& x, Eigen::Index begin, Eigen::Index end, Out& out,
                    std::vector<char>& constant, double& squared) {
  using OutScalar = typename Out::Scalar;
  const Eigen::Index n = x.rows();
  squared = 0;
  for (Eigen::Index j = begin; j < end; ++j) {
    const auto column = x.col(j);
    const double sum = column.template cast<double>().sum();
    if (!std::isfinite(sum)) return false;
    const double mean = sum / static_cast<double>(n);
    constant[j] = column.minCoeff() == column.maxCoeff();  // a dead unit
    if (constant[j]) continue;
    const auto centred = column.template cast<double>().array() - mean;
    out.col(j) = centred.template cast<OutScalar>().matrix();
    squared += centred.square().sum();
  }
  return true;
}

// Centres `x` into `out`, on two threads for large inputs; false when a column sum is not
// finite.
template <typename Input, typename Out>
bool centre(const Input& x, Out& out, std::vector<char>& constant, double& squared) {
  const Eigen::Index p = x.cols();
  const bool parallel =
      x.size() >= kParallelCentringElements && p >= 2 && std::thread::hardware_concurrency() >= 2;
  const Eigen::Index half = parallel ? p / 2 : p;
  double squared_a = 0, squared_b = 0;
  bool finite_b = true;
  std::thread second;
  if (parallel) {
    second = std::thread([&] { finite_b = centre_columns(x, half, p, out, constant, squared_b); });
  }
  const bool finite_a = centre_columns(x, 0, half, out, constant, squared_a);
  if (second.joinable()) second.join();
  squared = squared_a + squared_b;
  return finite_a && finite_b;
}

// Centres the columns in float64, drops exactly-constant columns (dead units) and rejects
// non-finite values. The copy into the working precision is the only pass over the data
// besides the products themselves.
std::shared_ptr<ActivationState> prepare(const MatrixRef& x, Precision precision) {
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
  const Eigen::Index p = x.cols();
  std::vector<char> constant(p, 0);
  state->centred =
      Matrix(precision == Precision::kFloat32 ? DType::kFloat32 : DType::kFloat64, x.rows(), p);
  const bool finite = x.visit([&](const auto& input) {
    return state->centred.visit(
        [&](auto& out) { return centre(input, out, constant, state->squared_norm); });
  });
  if (!finite) {
    // A non-finite column sum: NaN/Inf in the data (or, for float64 input, an overflowing sum
    // of huge values, which the exact check below tells apart).
    state->status = Status::kNonFinite;
    state->message = x.visit([](const auto& input) { return non_finite_message(input); });
    if (state->message.empty()) {
      state->message =
          "activations are so large that their column sums overflow float64 (|values| near "
          "1e308); rescale them";
    }
    state->centred = Matrix();
    return state;
  }
  Eigen::Index kept = 0;
  state->centred.visit([&](auto& out) {
    for (Eigen::Index j = 0; j < p; ++j) {
      if (constant[j]) {
        state->dropped_constant.push_back(j);
        continue;
      }
      if (kept != j) out.col(kept) = out.col(j);
      ++kept;
    }
  });
  state->centred.resize_columns(kept);
  if (kept == 0) {
    state->status = Status::kZeroVariance;
    state->message = fmt::format("all {} features are constant: nothing to compare", p);
  }
  return state;
}

}  // namespace
}  // namespace detail

Activations::Activations(MatrixRef x, Precision precision)
    : state_(detail::prepare(x, precision)) {}

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
