#include "kernels.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "linalg.h"

namespace layerwatch::similarity::detail {

double unbiased_hsic(const Eigen::MatrixXd& k, const Eigen::MatrixXd& l) {
  const double n = static_cast<double>(k.rows());
  Eigen::MatrixXd kt = k, lt = l;
  kt.diagonal().setZero();
  lt.diagonal().setZero();
  const double trace_kl = (kt.array() * lt.array()).sum();
  const Eigen::VectorXd k1 = kt.rowwise().sum();
  const Eigen::VectorXd l1 = lt.rowwise().sum();
  const double sum_k = k1.sum(), sum_l = l1.sum();
  const double cross = k1.dot(l1);
  return (trace_kl + sum_k * sum_l / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * cross) / (n * (n - 3));
}

double debiased_hsic_from_features(double cross_frobenius2, const Eigen::VectorXd& r,
                                   const Eigen::VectorXd& s) {
  // Song et al.'s estimator with K = XXᵀ for centred X: 1ᵀK1 = 0, so 1ᵀK̃1 = −Σrᵢ and
  // (K̃1)ᵢ = −rᵢ, which reduces every term to the row norms.
  const double n = static_cast<double>(r.size());
  return cross_frobenius2 - n / (n - 2) * r.dot(s) + r.sum() * s.sum() / ((n - 1) * (n - 2));
}

void centre_gram(Eigen::MatrixXd& k) {
  const Eigen::VectorXd means = k.colwise().mean().transpose();
  const double grand = means.mean();
  k.rowwise() -= means.transpose();
  k.colwise() -= means;
  k.array() += grand;
}

void u_centre_gram(Eigen::MatrixXd& k) {
  const double n = static_cast<double>(k.rows());
  k.diagonal().setZero();
  Eigen::VectorXd means = k.colwise().sum().transpose() / (n - 2);
  means.array() -= means.sum() / (2 * (n - 1));
  k.rowwise() -= means.transpose();
  k.colwise() -= means;
  k.diagonal().setZero();
}

bool rbf_gram(const Eigen::MatrixXd& centred, double threshold, Eigen::MatrixXd& kernel) {
  const Eigen::Index n = centred.rows();
  kernel = linalg::gram_of_rows(centred);
  const Eigen::VectorXd norms = kernel.diagonal();
  for (Eigen::Index j = 0; j < n; ++j) {
    for (Eigen::Index i = 0; i < n; ++i) {
      kernel(i, j) = std::max(0.0, norms(i) + norms(j) - 2 * kernel(i, j));
    }
  }
  // Median over all n² entries, the two middle values averaged when n² is even.
  std::vector<double> values(kernel.data(), kernel.data() + kernel.size());
  const size_t mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + mid, values.end());
  double median = values[mid];
  if (values.size() % 2 == 0) {
    median = 0.5 * (median + *std::max_element(values.begin(), values.begin() + mid));
  }
  if (!(median > 0)) return false;
  const double scale = -1.0 / (2.0 * threshold * threshold * median);
  kernel = (kernel.array() * scale).exp();
  return true;
}

}  // namespace layerwatch::similarity::detail
