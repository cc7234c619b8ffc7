// Minibatch CKA: unbiased HSIC accumulated over equal-size batches.

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "layerwatch/similarity/similarity.h"
#include "test_util.h"

namespace layerwatch::similarity {
namespace {

using layerwatch::testing::gaussian;

// Unbiased HSIC of a whole set computed straight from Song et al.'s formula with explicit loops,
// independent of the library's implementation.
double reference_unbiased_hsic(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y) {
  const Eigen::Index n = x.rows();
  Eigen::MatrixXd k = x * x.transpose(), l = y * y.transpose();
  for (Eigen::Index i = 0; i < n; ++i) k(i, i) = l(i, i) = 0;
  double trace = 0, sk = 0, sl = 0, cross = 0;
  for (Eigen::Index i = 0; i < n; ++i) {
    double rk = 0, rl = 0;
    for (Eigen::Index j = 0; j < n; ++j) {
      trace += k(i, j) * l(j, i);
      rk += k(i, j);
      rl += l(i, j);
    }
    sk += rk;
    sl += rl;
    cross += rk * rl;
  }
  const double m = static_cast<double>(n);
  return (trace + sk * sl / ((m - 1) * (m - 2)) - 2 / (m - 2) * cross) / (m * (m - 3));
}

TEST(MinibatchCka, AverageOverRandomSplitsMatchesFullUnbiasedHsic) {
  // A U-statistic averaged over random subsets equals the full-set U-statistic in expectation.
  const Eigen::MatrixXd x = gaussian(240, 6, 1);
  const Eigen::MatrixXd y = layerwatch::testing::related(x, 5, 1.5, 2);
  const double full_xy = reference_unbiased_hsic(x, y);
  const double full_xx = reference_unbiased_hsic(x, x);
  const double full_yy = reference_unbiased_hsic(y, y);
  std::vector<int> order(240);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937 rng(3);
  double sum_xy = 0, sum_xx = 0, sum_yy = 0;
  const int splits = 200, batch = 24;
  for (int s = 0; s < splits; ++s) {
    std::shuffle(order.begin(), order.end(), rng);
    MinibatchCka acc;
    for (int b = 0; b < 240 / batch; ++b) {
      Eigen::MatrixXd xb(batch, 6), yb(batch, 5);
      for (int i = 0; i < batch; ++i) {
        xb.row(i) = x.row(order[b * batch + i]);
        yb.row(i) = y.row(order[b * batch + i]);
      }
      acc.update(xb, yb);
    }
    sum_xy += acc.hsic_xy() / acc.batches();
    sum_xx += acc.hsic_xx() / acc.batches();
    sum_yy += acc.hsic_yy() / acc.batches();
  }
  EXPECT_NEAR(sum_xy / splits, full_xy, 0.03 * std::abs(full_xy));
  EXPECT_NEAR(sum_xx / splits, full_xx, 0.03 * full_xx);
  EXPECT_NEAR(sum_yy / splits, full_yy, 0.03 * full_yy);
  const double expected = full_xy / std::sqrt(full_xx * full_yy);
  EXPECT_NEAR((sum_xy / splits) / std::sqrt((sum_xx / splits) * (sum_yy / splits)), expected, 0.02);
  // …and the full set's unbiased HSIC ratio is the debiased linear CKA.
  EXPECT_NEAR(expected, linear_cka(x, y, CkaOptions().debiased(true)).value, 1e-9);
}

TEST(MinibatchCka, OneBatchEqualsDebiasedCka) {
  const Eigen::MatrixXd x = gaussian(64, 5, 4), y = layerwatch::testing::related(x, 4, 1.0, 5);
  MinibatchCka acc;
  acc.update(x, y);
  EXPECT_NEAR(acc.result().value, linear_cka(x, y, CkaOptions().debiased(true)).value, 1e-10);
}

TEST(MinibatchCka, RejectsUnequalBatchesAndCountsNonFinite) {
  MinibatchCka acc;
  EXPECT_EQ(acc.result().status, Status::kEmptyInput);
  acc.update(gaussian(16, 3, 6), gaussian(16, 2, 7));
  EXPECT_THROW(acc.update(gaussian(15, 3, 8), gaussian(15, 2, 9)), std::invalid_argument);
  EXPECT_THROW(acc.update(gaussian(16, 3, 8), gaussian(15, 2, 9)), std::invalid_argument);
  EXPECT_THROW(acc.update(gaussian(16, 4, 8), gaussian(16, 2, 9)), std::invalid_argument);
  Eigen::MatrixXd bad = gaussian(16, 3, 10);
  bad(0, 0) = std::numeric_limits<double>::quiet_NaN();
  acc.update(bad, gaussian(16, 2, 11));
  EXPECT_EQ(acc.skipped_batches(), 1);
  EXPECT_EQ(acc.batches(), 1);
  EXPECT_TRUE(has_value(acc.result().status));
  MinibatchCka tiny;
  EXPECT_THROW(tiny.update(gaussian(3, 2, 1), gaussian(3, 2, 2)), std::invalid_argument);
}

}  // namespace
}  // namespace layerwatch::similarity
