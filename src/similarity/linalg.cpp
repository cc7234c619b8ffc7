#include "linalg.h"

#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <vector>

#include "layerwatch/core/huge_pages.h"

namespace layerwatch::similarity::linalg {
namespace {

void syrk(int n, int k, const double* a, int lda, double* c) {
  cblas_dsyrk(CblasColMajor, CblasUpper, CblasTrans, n, k, 1.0, a, lda, 0.0, c, n);
}
void syrk(int n, int k, const float* a, int lda, float* c) {
  cblas_ssyrk(CblasColMajor, CblasUpper, CblasTrans, n, k, 1.0f, a, lda, 0.0f, c, n);
}
void syrk_rows(int n, int k, const double* a, int lda, double* c) {
  cblas_dsyrk(CblasColMajor, CblasUpper, CblasNoTrans, n, k, 1.0, a, lda, 0.0, c, n);
}
void syrk_rows(int n, int k, const float* a, int lda, float* c) {
  cblas_ssyrk(CblasColMajor, CblasUpper, CblasNoTrans, n, k, 1.0f, a, lda, 0.0f, c, n);
}
void gemm_tn(int m, int n, int k, const double* a, int lda, const double* b, int ldb, double* c) {
  cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, m, n, k, 1.0, a, lda, b, ldb, 0.0, c, m);
}
void gemm_tn(int m, int n, int k, const float* a, int lda, const float* b, int ldb, float* c) {
  cblas_sgemm(CblasColMajor, CblasTrans, CblasNoTrans, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, m);
}

void gemm_nn(int m, int n, int k, const double* a, int lda, const double* b, int ldb, double* c) {
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0, a, lda, b, ldb, 0.0, c, m);
}
void gemm_nn(int m, int n, int k, const float* a, int lda, const float* b, int ldb, float* c) {
  cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, m);
}

template <typename T>
void mirror_upper(Matrix<T>& c) {
  c.template triangularView<Eigen::StrictlyLower>() = c.transpose();
}

// Results of 4 MiB and more are written on huge pages (the products write every element
// once, so a fresh buffer would otherwise fault once per 4 KiB).
template <typename T>
Matrix<T> result(Eigen::Index rows, Eigen::Index cols) {
  Matrix<T> c(rows, cols);
  detail::advise_huge_pages(c.data(), static_cast<std::size_t>(c.size()) * sizeof(T));
  return c;
}

template <typename T>
Matrix<T> gram_of_columns_impl(const ConstRef<T>& a) {
  const auto p = static_cast<int>(a.cols());
  if (p == 0) return Matrix<T>(0, 0);
  if (a.rows() == 0) return Matrix<T>::Zero(p, p);
  Matrix<T> c = result<T>(p, p);
  syrk(p, static_cast<int>(a.rows()), a.data(), static_cast<int>(a.outerStride()), c.data());
  mirror_upper(c);
  return c;
}

template <typename T>
Matrix<T> gram_of_rows_impl(const ConstRef<T>& a) {
  const auto n = static_cast<int>(a.rows());
  if (n == 0) return Matrix<T>(0, 0);
  if (a.cols() == 0) return Matrix<T>::Zero(n, n);
  Matrix<T> c = result<T>(n, n);
  syrk_rows(n, static_cast<int>(a.cols()), a.data(), static_cast<int>(a.outerStride()), c.data());
  mirror_upper(c);
  return c;
}

template <typename T>
Matrix<T> transpose_times_impl(const ConstRef<T>& a, const ConstRef<T>& b) {
  if (a.cols() == 0 || b.cols() == 0) return Matrix<T>(a.cols(), b.cols());
  if (a.rows() == 0) return Matrix<T>::Zero(a.cols(), b.cols());
  Matrix<T> c = result<T>(a.cols(), b.cols());
  gemm_tn(static_cast<int>(a.cols()), static_cast<int>(b.cols()), static_cast<int>(a.rows()),
          a.data(), static_cast<int>(a.outerStride()), b.data(), static_cast<int>(b.outerStride()),
          c.data());
  return c;
}

template <typename T>
Matrix<T> times_impl(const ConstRef<T>& a, const ConstRef<T>& b) {
  if (a.rows() == 0 || b.cols() == 0) return Matrix<T>(a.rows(), b.cols());
  if (a.cols() == 0) return Matrix<T>::Zero(a.rows(), b.cols());
  Matrix<T> c = result<T>(a.rows(), b.cols());
  gemm_nn(static_cast<int>(a.rows()), static_cast<int>(b.cols()), static_cast<int>(a.cols()),
          a.data(), static_cast<int>(a.outerStride()), b.data(), static_cast<int>(b.outerStride()),
          c.data());
  return c;
}

}  // namespace

Eigen::MatrixXd copy_of(const Eigen::MatrixXd& a) {
  Eigen::MatrixXd c = result<double>(a.rows(), a.cols());
  c = a;  // same size: written into the advised buffer
  return c;
}

Matrix<double> gram_of_columns(ConstRef<double> a) { return gram_of_columns_impl(a); }
Matrix<float> gram_of_columns(ConstRef<float> a) { return gram_of_columns_impl(a); }
Matrix<double> gram_of_rows(ConstRef<double> a) { return gram_of_rows_impl(a); }
Matrix<float> gram_of_rows(ConstRef<float> a) { return gram_of_rows_impl(a); }
Matrix<double> transpose_times(ConstRef<double> a, ConstRef<double> b) {
  return transpose_times_impl(a, b);
}
Matrix<float> transpose_times(ConstRef<float> a, ConstRef<float> b) {
  return transpose_times_impl(a, b);
}
Matrix<double> times(ConstRef<double> a, ConstRef<double> b) { return times_impl(a, b); }
Matrix<float> times(ConstRef<float> a, ConstRef<float> b) { return times_impl(a, b); }

bool symmetric_eigen(const Eigen::MatrixXd& a, Eigen::VectorXd& eigenvalues,
                     Eigen::MatrixXd& eigenvectors) {
  const auto n = static_cast<lapack_int>(a.rows());
  eigenvectors = a;
  eigenvalues.resize(n);
  if (n == 0) return true;
  const lapack_int info =
      LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'V', 'U', n, eigenvectors.data(), n, eigenvalues.data());
  return info == 0;
}

bool tridiagonalize(const Eigen::MatrixXd& a, Tridiagonal& t, Eigen::VectorXd& eigenvalues) {
  const auto n = static_cast<lapack_int>(a.rows());
  t.reflectors = a;
  t.diagonal.resize(n);
  t.off_diagonal.resize(std::max<lapack_int>(n - 1, 0));
  t.tau.resize(std::max<lapack_int>(n - 1, 0));
  eigenvalues.resize(n);
  if (n == 0) return true;
  if (LAPACKE_dsytrd(LAPACK_COL_MAJOR, 'L', n, t.reflectors.data(), n, t.diagonal.data(),
                     t.off_diagonal.data(), t.tau.data()) != 0) {
    return false;
  }
  eigenvalues = t.diagonal;
  Eigen::VectorXd off = t.off_diagonal;
  return LAPACKE_dsterf(n, eigenvalues.data(), off.data()) == 0;
}

bool tridiagonal_eigenvectors(const Tridiagonal& t, int64_t first, int64_t count,
                              Eigen::MatrixXd& vectors) {
  const auto n = static_cast<lapack_int>(t.diagonal.size());
  const auto k = static_cast<lapack_int>(count);
  vectors.resize(n, k);
  if (k == 0) return true;
  if (first < 0 || first + count > n) return false;
  // dstemr overwrites both and wants an off-diagonal of length n.
  Eigen::VectorXd d = t.diagonal;
  Eigen::VectorXd e = Eigen::VectorXd::Zero(n);
  e.head(n - 1) = t.off_diagonal;
  Eigen::VectorXd w(n);  // dstemr's eigenvalues, not needed: tridiagonalize gave them all
  std::vector<lapack_int> support(2 * static_cast<size_t>(k));
  lapack_int found = 0;
  lapack_logical tryrac = 1;
  const auto il = static_cast<lapack_int>(first + 1);
  if (LAPACKE_dstemr(LAPACK_COL_MAJOR, 'V', 'I', n, d.data(), e.data(), 0.0, 0.0, il, il + k - 1,
                     &found, w.data(), vectors.data(), n, k, support.data(), &tryrac) != 0 ||
      found != k) {
    return false;
  }
  return LAPACKE_dormtr(LAPACK_COL_MAJOR, 'L', 'L', 'N', n, k, t.reflectors.data(), n, t.tau.data(),
                        vectors.data(), n) == 0;
}

bool singular_values(const Eigen::MatrixXd& a, Eigen::VectorXd& values, Eigen::MatrixXd* u,
                     Eigen::MatrixXd* v) {
  const auto m = static_cast<lapack_int>(a.rows());
  const auto n = static_cast<lapack_int>(a.cols());
  const lapack_int k = std::min(m, n);
  values.resize(k);
  if (k == 0) {
    if (u) u->resize(m, 0);
    if (v) v->resize(n, 0);
    return true;
  }
  if (!u && !v) {
    // Values only: eigenvalues of the smaller Gram matrix (AᵀA or AAᵀ). A symmetric values-only
    // eigensolve costs about a third of dgesdd's bidiagonalization here, and the absolute error
    // on σ² stays at the 1e-16·σ²_max level, which is all that ρ̄ and nuclear norms need.
    Eigen::MatrixXd gram = m >= n ? gram_of_columns(a) : gram_of_rows(a);
    Eigen::VectorXd ascending(k);
    if (LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'N', 'U', k, gram.data(), k, ascending.data()) != 0) {
      return false;
    }
    values = ascending.reverse().cwiseMax(0.0).cwiseSqrt();
    return true;
  }
  Eigen::MatrixXd work = copy_of(a);
  Eigen::MatrixXd uu(m, k), vt(k, n);
  const lapack_int info = LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'S', m, n, work.data(), m, values.data(),
                                         uu.data(), m, vt.data(), k);
  if (info != 0) return false;
  if (u) *u = std::move(uu);
  if (v) *v = vt.transpose();
  return true;
}

bool cholesky_lower(Eigen::MatrixXd& a) {
  const auto n = static_cast<lapack_int>(a.rows());
  if (n == 0) return true;
  if (LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', n, a.data(), n) != 0) return false;
  a.triangularView<Eigen::StrictlyUpper>().setZero();
  return true;
}

void solve_lower_left(const Eigen::MatrixXd& l, Eigen::MatrixXd& b) {
  if (b.size() == 0) return;
  cblas_dtrsm(CblasColMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit,
              static_cast<int>(b.rows()), static_cast<int>(b.cols()), 1.0, l.data(),
              static_cast<int>(l.rows()), b.data(), static_cast<int>(b.rows()));
}

void solve_lower_transposed_right(const Eigen::MatrixXd& l, Eigen::MatrixXd& b) {
  if (b.size() == 0) return;
  cblas_dtrsm(CblasColMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit,
              static_cast<int>(b.rows()), static_cast<int>(b.cols()), 1.0, l.data(),
              static_cast<int>(l.rows()), b.data(), static_cast<int>(b.rows()));
}

}  // namespace layerwatch::similarity::linalg

namespace layerwatch::similarity::linalg {

Eigen::MatrixXd lower_times(const Eigen::MatrixXd& l, const Eigen::MatrixXd& b) {
  Eigen::MatrixXd c = copy_of(b);
  if (c.size() == 0) return c;
  cblas_dtrmm(CblasColMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit,
              static_cast<int>(c.rows()), static_cast<int>(c.cols()), 1.0, l.data(),
              static_cast<int>(l.rows()), c.data(), static_cast<int>(c.rows()));
  return c;
}

void solve_lower_transposed_left(const Eigen::MatrixXd& l, Eigen::MatrixXd& b) {
  if (b.size() == 0) return;
  cblas_dtrsm(CblasColMajor, CblasLeft, CblasLower, CblasTrans, CblasNonUnit,
              static_cast<int>(b.rows()), static_cast<int>(b.cols()), 1.0, l.data(),
              static_cast<int>(l.rows()), b.data(), static_cast<int>(b.rows()));
}

}  // namespace layerwatch::similarity::linalg
