// Statuses instead of silent nonsense, and argument errors that name both shapes.

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "layerwatch/similarity/similarity.h"
#include "test_util.h"

namespace layerwatch::similarity {
namespace {

using layerwatch::testing::gaussian;

TEST(Statuses, FewerSamplesThanFeaturesIsTooFewSamplesNotOne) {
  const Eigen::MatrixXd x = gaussian(50, 80, 1), y = gaussian(50, 60, 2);
  const auto r = cca(x, y);
  EXPECT_EQ(r.status, Status::kTooFewSamples);
  EXPECT_TRUE(std::isnan(r.value));
  EXPECT_NE(r.message.find("50 samples"), std::string::npos) << r.message;
  EXPECT_EQ(pwcca(x, y).status, Status::kTooFewSamples);
  // CKA stays defined when n < p.
  EXPECT_EQ(linear_cka(x, y).status, Status::kOk);
}

TEST(Statuses, SvccaReductionCanBringWidthBelowSamples) {
  // 60 samples, 100 features of rank 5: SVCCA keeps ≤ 5 directions and is meaningful.
  const Eigen::MatrixXd base = gaussian(60, 5, 3);
  const Eigen::MatrixXd x = base * gaussian(5, 100, 4),
                        y = base * gaussian(5, 70, 5) + 0.01 * gaussian(60, 70, 6);
  const auto r = svcca(x, y);
  EXPECT_TRUE(has_value(r.status)) << r.message;
  EXPECT_LE(r.kept_x, 5);
}

TEST(Statuses, FewSamplesPerFeatureWarnsButComputes) {
  const Eigen::MatrixXd x = gaussian(60, 20, 7), y = gaussian(60, 20, 8);
  const auto r = cca(x, y);
  EXPECT_EQ(r.status, Status::kOk);
  EXPECT_NE(r.message.find("samples per feature"), std::string::npos) << r.message;
}

TEST(Statuses, ConstantFeaturesAreDroppedAndReported) {
  Eigen::MatrixXd x = gaussian(400, 6, 9);
  const Eigen::MatrixXd y = layerwatch::testing::related(x, 5, 1.0, 10);
  x.col(2).setConstant(3.0);  // a dead unit
  const auto r = cca(x, y);
  EXPECT_EQ(r.status, Status::kOk) << r.message;
  ASSERT_EQ(r.dropped_x.size(), 1u);
  EXPECT_EQ(r.dropped_x[0], 2);
  EXPECT_EQ(r.kept_x, 5);
  Eigen::MatrixXd without(400, 5);
  without << x.leftCols(2), x.rightCols(3);
  EXPECT_NEAR(r.value, cca(without, y).value, 1e-12);
}

TEST(Statuses, AllConstantIsZeroVariance) {
  const Eigen::MatrixXd x = Eigen::MatrixXd::Constant(100, 4, 1.5), y = gaussian(100, 4, 11);
  for (const Status s : {cca(x, y).status, svcca(x, y).status, linear_cka(x, y).status,
                         rbf_cka(x, y).status, procrustes(x, y).status}) {
    EXPECT_EQ(s, Status::kZeroVariance);
  }
}

TEST(Statuses, LinearlyDependentFeaturesAreRankDeficient) {
  Eigen::MatrixXd x = gaussian(500, 6, 12);
  x.col(5) = x.col(0) - 2 * x.col(3);
  const Eigen::MatrixXd y = layerwatch::testing::related(x.leftCols(5), 4, 1.0, 13);
  const auto r = cca(x, y);
  EXPECT_EQ(r.status, Status::kRankDeficient) << r.message;
  EXPECT_EQ(r.kept_x, 5);
  EXPECT_NEAR(r.value, cca(x.leftCols(5), y).value, 1e-8);
}

TEST(Statuses, NonFiniteInputIsReportedNotThrown) {
  Eigen::MatrixXf x = gaussian(200, 5, 14).cast<float>();
  const Eigen::MatrixXf y = gaussian(200, 5, 15).cast<float>();
  x(17, 3) = std::numeric_limits<float>::quiet_NaN();
  x(40, 1) = std::numeric_limits<float>::infinity();
  const auto r = svcca(x, y);
  EXPECT_EQ(r.status, Status::kNonFinite);
  EXPECT_TRUE(std::isnan(r.value));
  EXPECT_NE(r.message.find("2 non-finite"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("row 40, column 1"), std::string::npos) << r.message;
  EXPECT_EQ(linear_cka(y, x).status, Status::kNonFinite);
  EXPECT_EQ(procrustes(x, y).status, Status::kNonFinite);
}

TEST(Statuses, EmptyInputIsReported) {
  const Eigen::MatrixXd empty(0, 5), other(0, 3);
  EXPECT_EQ(cca(empty, other).status, Status::kEmptyInput);
  const Eigen::MatrixXd no_features(10, 0), some = gaussian(10, 3, 16);
  EXPECT_EQ(linear_cka(no_features, some).status, Status::kEmptyInput);
}

TEST(Statuses, MismatchedSampleCountsThrowNamingBothShapes) {
  const Eigen::MatrixXd x = gaussian(100, 4, 17), y = gaussian(90, 7, 18);
  try {
    cca(x, y);
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("100×4"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("90×7"), std::string::npos) << e.what();
  }
}

TEST(Statuses, BadOptionsThrowNamingTheField) {
  const Eigen::MatrixXd x = gaussian(100, 4, 19);
  EXPECT_THROW(svcca(x, x, SvccaOptions().keep(1.5)), std::invalid_argument);
  EXPECT_THROW(svcca(x, x, SvccaOptions().reduction(SvccaReduction::kFixedDims).dims(0)),
               std::invalid_argument);
  EXPECT_THROW(rbf_cka(x, x, RbfCkaOptions().threshold(-1)), std::invalid_argument);
  EXPECT_THROW(cca(x, x, CcaOptions().rank_tolerance(2)), std::invalid_argument);
  try {
    svcca(x, x, SvccaOptions().keep(0));
    FAIL() << "expected std::invalid_argument for keep 0";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("keep"), std::string::npos);
  }
}

TEST(Statuses, RbfCkaRefusesKernelsAboveTheSampleLimit) {
  const Eigen::MatrixXd x = gaussian(300, 3, 20);
  const auto r = rbf_cka(x, x, RbfCkaOptions().max_samples(200));
  EXPECT_EQ(r.status, Status::kTooLarge);
  EXPECT_NE(r.message.find("max_samples"), std::string::npos);
}

TEST(Statuses, DebiasedCkaNeedsFourSamples) {
  const Eigen::MatrixXd x = gaussian(3, 2, 21), y = gaussian(3, 2, 22);
  EXPECT_EQ(linear_cka(x, y, CkaOptions().debiased(true)).status, Status::kTooFewSamples);
  EXPECT_EQ(linear_cka(x, y).status, Status::kOk);
}

TEST(Statuses, FixedDimsReductionKeepsExactlyK) {
  const Eigen::MatrixXd x = gaussian(500, 20, 23), y = layerwatch::testing::related(x, 15, 1.0, 24);
  const auto r = svcca(x, y, SvccaOptions().reduction(SvccaReduction::kFixedDims).dims(7));
  EXPECT_EQ(r.kept_x, 7);
  EXPECT_EQ(r.kept_y, 7);
  EXPECT_EQ(r.rho.size(), 7);
  const auto v =
      svcca(x, y, SvccaOptions().reduction(SvccaReduction::kExplainedVariance).keep(0.5));
  const auto m = svcca(x, y, SvccaOptions().keep(0.5));
  EXPECT_LE(v.kept_x, m.kept_x);  // squared values concentrate mass in fewer directions
}

}  // namespace
}  // namespace layerwatch::similarity
