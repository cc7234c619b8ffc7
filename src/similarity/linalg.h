#pragma once
// Thin wrappers over BLAS/LAPACK for the few heavy kernels of the similarity core. Eigen stays
// the matrix type; these hand the O(n·p²) products and the O(p³) decompositions to OpenBLAS,
// which runs 2-3x faster than Eigen's own kernels on this class of machine (docs/performance.md).
// All matrices are column-major Eigen matrices.

#include <Eigen/Core>
#include <cstdint>
#include <type_traits>
#include <utility>

namespace layerwatch::similarity::linalg {

template <typename T>
using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
/// Any column-major matrix, map or block of T with contiguous columns (others are copied).
template <typename T>
using ConstRef = Eigen::Ref<const Matrix<T>>;

/// Returns AᵀA (full symmetric matrix, both triangles filled).
Matrix<double> gram_of_columns(ConstRef<double> a);
Matrix<float> gram_of_columns(ConstRef<float> a);

/// Returns AᵀB.
Matrix<double> transpose_times(ConstRef<double> a, ConstRef<double> b);
Matrix<float> transpose_times(ConstRef<float> a, ConstRef<float> b);

/// `m` as float64: moved when it is float64 already, converted otherwise.
template <typename T>
Eigen::MatrixXd to_double(Matrix<T>&& m) {
  if constexpr (std::is_same_v<T, double>) {
    return std::move(m);
  } else {
    return m.template cast<double>();
  }
}

/// A copy of `a` whose buffer is advised for huge pages before it is written: p × p work copies
/// of a few megabytes would otherwise fault once per 4 KiB as they are filled.
Eigen::MatrixXd copy_of(const Eigen::MatrixXd& a);

/// Returns A·Aᵀ (both triangles filled).
Matrix<double> gram_of_rows(ConstRef<double> a);
Matrix<float> gram_of_rows(ConstRef<float> a);

/// Symmetric eigendecomposition A = V diag(w) Vᵀ (divide and conquer). Eigenvalues ascending.
/// Returns false when LAPACK reports failure.
bool symmetric_eigen(const Eigen::MatrixXd& a, Eigen::VectorXd& eigenvalues,
                     Eigen::MatrixXd& eigenvectors);

/// A symmetric matrix reduced to tridiagonal form, A = Q T Qᵀ (Householder, LAPACK dsytrd):
/// all eigenvalues cost O(p²) from here and any k eigenvectors O(p²·k), against the full
/// eigendecomposition's ~9p³.
struct Tridiagonal {
  Eigen::MatrixXd reflectors;    // Q as elementary reflectors (lower triangle), p×p
  Eigen::VectorXd tau;           // their scalar factors, p−1
  Eigen::VectorXd diagonal;      // T's diagonal, p
  Eigen::VectorXd off_diagonal;  // T's sub-diagonal, p−1
};

/// Reduces `a` to tridiagonal form and returns all its eigenvalues, ascending.
/// Returns false when LAPACK reports failure.
bool tridiagonalize(const Eigen::MatrixXd& a, Tridiagonal& t, Eigen::VectorXd& eigenvalues);

/// Eigenvectors number `first` … `first + count − 1` (0-based, ascending order of their
/// eigenvalues) of the matrix `t` was made from, as the columns of `vectors` (p×count) (MRRR,
/// LAPACK dstemr; then Q applied). False on failure.
bool tridiagonal_eigenvectors(const Tridiagonal& t, int64_t first, int64_t count,
                              Eigen::MatrixXd& vectors);

/// Singular values of A (descending); optionally the thin U and V (A = U diag(s) Vᵀ).
bool singular_values(const Eigen::MatrixXd& a, Eigen::VectorXd& values,
                     Eigen::MatrixXd* u = nullptr, Eigen::MatrixXd* v = nullptr);

/// Cholesky A = L Lᵀ in place (lower triangle). Returns false if A is not positive definite.
bool cholesky_lower(Eigen::MatrixXd& a);

/// Solves L X = B in place (B := L⁻¹ B), L lower triangular.
void solve_lower_left(const Eigen::MatrixXd& l, Eigen::MatrixXd& b);

/// B := B L⁻ᵀ, L lower triangular.
void solve_lower_transposed_right(const Eigen::MatrixXd& l, Eigen::MatrixXd& b);

}  // namespace layerwatch::similarity::linalg

namespace layerwatch::similarity::linalg {

/// Returns A·B.
Matrix<double> times(ConstRef<double> a, ConstRef<double> b);
Matrix<float> times(ConstRef<float> a, ConstRef<float> b);

/// Returns L·B, L lower triangular (its upper triangle is not read).
Eigen::MatrixXd lower_times(const Eigen::MatrixXd& l, const Eigen::MatrixXd& b);

/// Solves Lᵀ X = B in place (B := L⁻ᵀ B), L lower triangular.
void solve_lower_transposed_left(const Eigen::MatrixXd& l, Eigen::MatrixXd& b);

}  // namespace layerwatch::similarity::linalg
