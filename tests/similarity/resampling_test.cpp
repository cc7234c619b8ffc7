// Bootstrap intervals and permutation tests checked for what they promise: p-values uniform
// when the two sides are independent and tiny when they are related, intervals that cover a
// known true value at their nominal rate.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>

#include "layerwatch/similarity/resampling.h"
#include "test_util.h"

namespace layerwatch::similarity {
namespace {

using layerwatch::testing::gaussian;
using layerwatch::testing::related;

TEST(Quantile, InterpolatesBetweenOrderStatisticsLikeNumpy) {
  std::vector<double> v = {4, 1, 3, 2};  // sorted 1 2 3 4
  EXPECT_DOUBLE_EQ(quantile(v, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(quantile(v, 1.0), 4.0);
  EXPECT_DOUBLE_EQ(quantile(v, 0.5), 2.5);      // numpy.quantile([1,2,3,4], 0.5)
  EXPECT_DOUBLE_EQ(quantile(v, 0.025), 1.075);  // numpy.quantile([1,2,3,4], 0.025)
  std::vector<double> empty;
  EXPECT_TRUE(std::isnan(quantile(empty, 0.5)));
}

TEST(PermutationTest, PValuesAreAboutUniformWhenTheSidesAreIndependent) {
  const int trials = 300;
  std::vector<double> p_values;
  for (int t = 0; t < trials; ++t) {
    const Eigen::MatrixXd x = gaussian(40, 3, 1000 + 2 * t);
    const Eigen::MatrixXd y = gaussian(40, 2, 1001 + 2 * t);
    const auto r =
        resample_metric(Metric::kCka, x, y, {}, ResamplingOptions().permutations(99).seed(t));
    ASSERT_EQ(r.permutations_used, 99);
    ASSERT_GE(r.p_value, 0.01);
    ASSERT_LE(r.p_value, 1.0);
    p_values.push_back(r.p_value);
  }
  // Kolmogorov–Smirnov distance to the discrete uniform on {0.01, …, 1}; the 1 % critical value
  // for 300 draws is 0.094, plus the grid's step.
  std::sort(p_values.begin(), p_values.end());
  double ks = 0;
  for (int i = 0; i < trials; ++i) {
    const double p = p_values[i];
    ks = std::max({ks, std::abs((i + 1.0) / trials - p), std::abs(double(i) / trials - p)});
  }
  std::cout << "KS distance to uniform " << ks << "\n";
  EXPECT_LT(ks, 0.094 + 0.01);
  const auto rejected =
      std::count_if(p_values.begin(), p_values.end(), [](double p) { return p <= 0.05; });
  std::cout << rejected << " of " << trials << " p-values <= 0.05\n";
  // Binomial(300, 0.05): mean 15, 99.9 % of draws within [4, 29].
  EXPECT_GE(rejected, 4);
  EXPECT_LE(rejected, 29);
}

TEST(PermutationTest, PValueIsTheSmallestReachableOnRelatedData) {
  const Eigen::MatrixXd x = gaussian(200, 8, 1);
  const Eigen::MatrixXd y = related(x, 6, 1.0, 2);
  for (const Metric metric : all_metrics()) {
    const auto r = resample_metric(metric, x, y, {}, ResamplingOptions().permutations(99));
    EXPECT_EQ(r.permutations_used, 99) << to_string(metric);
    EXPECT_DOUBLE_EQ(r.p_value, 1.0 / 100) << to_string(metric);  // distances too (≤ observed)
  }
}

// The mean canonical correlation of one-dimensional sides is |corr(x, y)|, whose population
// value we set: x, y standard normal with correlation 0.6.
TEST(Bootstrap, IntervalsCoverAKnownTrueValueAtAboutTheirNominalRate) {
  const double rho = 0.6;
  const int trials = 400;
  int covered = 0;
  double width = 0;
  for (int t = 0; t < trials; ++t) {
    const Eigen::MatrixXd z = gaussian(200, 2, 5000 + t);
    Eigen::MatrixXd x = z.col(0);
    Eigen::MatrixXd y = rho * z.col(0) + std::sqrt(1 - rho * rho) * z.col(1);
    const auto r =
        resample_metric(Metric::kCca, x, y, {}, ResamplingOptions().bootstrap(400).seed(t));
    ASSERT_EQ(r.bootstrap_used, 400);
    ASSERT_LE(r.low, r.value);
    ASSERT_GE(r.high, r.value);
    covered += r.low <= rho && rho <= r.high;
    width += r.high - r.low;
  }
  const double coverage = double(covered) / trials;
  std::cout << "coverage " << coverage << ", mean width " << width / trials << "\n";
  // Percentile intervals of a correlation at n = 200 cover about 94 %; ±3 binomial sd of 400.
  EXPECT_GT(coverage, 0.90) << "coverage " << coverage;
  EXPECT_LT(coverage, 0.98) << "coverage " << coverage;
  // Fisher's z gives a 95 % interval width of about 2·1.96·(1 − ρ²)/√n = 0.177 for ρ.
  EXPECT_NEAR(width / trials, 0.177, 0.02);
}

TEST(Bootstrap, TheSameSeedGivesTheSameIntervalAndAnotherSeedAnother) {
  const Eigen::MatrixXd x = gaussian(100, 5, 3);
  const Eigen::MatrixXd y = related(x, 4, 3.0, 4);
  const auto options = ResamplingOptions().bootstrap(50).permutations(20).seed(11);
  const auto a = resample_metric(Metric::kSvcca, x, y, {}, options);
  const auto b = resample_metric(Metric::kSvcca, x, y, {}, options);
  EXPECT_EQ(a.low, b.low);
  EXPECT_EQ(a.high, b.high);
  EXPECT_EQ(a.p_value, b.p_value);
  const auto c = resample_metric(Metric::kSvcca, x, y, {}, ResamplingOptions(options).seed(12));
  EXPECT_NE(a.low, c.low);
  EXPECT_GT(a.standard_error, 0);
  EXPECT_LT(a.standard_error, a.high - a.low);  // ±1 sd is narrower than the 95 % range
}

// Every example spans 4 identical rows: resampling whole examples gives exactly what
// resampling the examples of the undivided data gives (linear CKA and CCA do not change when
// every row is repeated equally often), while resampling rows alone would not.
TEST(Bootstrap, ResamplesWholeExamplesWhenEachSpansSeveralRows) {
  const Eigen::MatrixXd x = gaussian(60, 3, 21);
  const Eigen::MatrixXd y = related(x, 2, 2.0, 22);
  const auto repeat = [](const Eigen::MatrixXd& m) {
    Eigen::MatrixXd out(m.rows() * 4, m.cols());
    for (Eigen::Index i = 0; i < out.rows(); ++i) out.row(i) = m.row(i / 4);
    return out;
  };
  const auto options = ResamplingOptions().bootstrap(30).permutations(30).seed(5);
  for (const Metric metric : {Metric::kCka, Metric::kCca}) {
    const auto plain = resample_metric(metric, x, y, {}, options);
    const auto grouped = resample_metric(metric, repeat(x), repeat(y), {},
                                         ResamplingOptions(options).rows_per_example(4));
    EXPECT_NEAR(grouped.low, plain.low, 1e-9) << to_string(metric);
    EXPECT_NEAR(grouped.high, plain.high, 1e-9) << to_string(metric);
    EXPECT_DOUBLE_EQ(grouped.p_value, plain.p_value) << to_string(metric);
  }
  EXPECT_THROW(resample_metric(Metric::kCka, gaussian(10, 2, 1), gaussian(10, 2, 2), {},
                               ResamplingOptions().bootstrap(3).rows_per_example(4)),
               std::invalid_argument);
}

TEST(Bootstrap, ReportsProgressOncePerResample) {
  const Eigen::MatrixXd x = gaussian(50, 3, 5);
  const Eigen::MatrixXd y = gaussian(50, 3, 6);
  std::vector<int64_t> seen;
  resample_metric(Metric::kCka, x, y, {}, ResamplingOptions().bootstrap(7).permutations(5), {},
                  [&](int64_t done, int64_t total) {
                    EXPECT_EQ(total, 12);
                    seen.push_back(done);
                  });
  ASSERT_EQ(seen.size(), 12u);
  EXPECT_EQ(seen.front(), 1);
  EXPECT_EQ(seen.back(), 12);
}

TEST(Bootstrap, BadInputComesBackAsAStatusAndMismatchedRowsThrow) {
  Eigen::MatrixXd x = gaussian(50, 3, 7);
  const Eigen::MatrixXd y = gaussian(50, 3, 8);
  x(4, 1) = std::nan("");
  const auto r = resample_metric(Metric::kCka, x, y, {}, ResamplingOptions().bootstrap(10));
  EXPECT_EQ(r.observed.status(), Status::kNonFinite);
  EXPECT_EQ(r.bootstrap_used, 0);
  EXPECT_NE(r.message.find("no resampling"), std::string::npos) << r.message;
  EXPECT_TRUE(std::isnan(r.low));

  const auto tiny = resample_metric(Metric::kCka, gaussian(2, 1, 1), gaussian(2, 1, 2), {},
                                    ResamplingOptions().permutations(5));
  EXPECT_TRUE(std::isnan(tiny.p_value));

  EXPECT_THROW(resample_metric(Metric::kCka, gaussian(50, 3, 1), gaussian(49, 3, 2), {},
                               ResamplingOptions().bootstrap(5)),
               std::invalid_argument);
  EXPECT_THROW(validate_options(ResamplingOptions().confidence(1.0)), std::invalid_argument);
}

}  // namespace
}  // namespace layerwatch::similarity
