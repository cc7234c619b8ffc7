// Property tests on seeded data: invariances, symmetry, ranges, identity and independence.

#include <gtest/gtest.h>

#include <Eigen/SVD>
#include <cmath>

#include "layerwatch/similarity/similarity.h"
#include "test_util.h"

namespace layerwatch::similarity {
namespace {

using layerwatch::testing::gaussian;
using layerwatch::testing::random_orthogonal;
using layerwatch::testing::related;

class Properties : public ::testing::Test {
 protected:
  Eigen::MatrixXd x = gaussian(600, 12, 1);
  Eigen::MatrixXd y = related(x, 9, 2.0, 2);
};

TEST_F(Properties, CcaInvariantToInvertibleLinearMaps) {
  const Eigen::MatrixXd a = gaussian(12, 12, 3) + 4 * Eigen::MatrixXd::Identity(12, 12);
  const auto base = cca(x, y);
  const auto mapped = cca(x * a, y);
  EXPECT_NEAR(mapped.value, base.value, 1e-9);
  EXPECT_LT((mapped.rho - base.rho).cwiseAbs().maxCoeff(), 1e-9);
  EXPECT_NEAR(svcca(x, y, SvccaOptions().keep(1.0)).value,
              svcca(x * a, y, SvccaOptions().keep(1.0)).value, 1e-9);
}

TEST_F(Properties, CkaInvariantToOrthogonalMapsAndIsotropicScaling) {
  const Eigen::MatrixXd q = random_orthogonal(12, 4);
  for (const bool debiased : {false, true}) {
    const auto options = CkaOptions().debiased(debiased);
    const double base = linear_cka(x, y, options).value;
    EXPECT_NEAR(linear_cka(x * q, y, options).value, base, 1e-10);
    EXPECT_NEAR(linear_cka(x * 3.5, y * 0.2, options).value, base, 1e-10);
  }
  const double rbf = rbf_cka(x, y).value;
  EXPECT_NEAR(rbf_cka(x * q, y).value, rbf, 1e-10);
  EXPECT_NEAR(rbf_cka(x * 7.0, y).value, rbf, 1e-10);  // σ scales with the median distance
}

TEST_F(Properties, EveryIndexInvariantToMeanShifts) {
  const Eigen::MatrixXd shifted = x.rowwise() + Eigen::RowVectorXd::LinSpaced(12, -50, 80);
  EXPECT_NEAR(cca(shifted, y).value, cca(x, y).value, 1e-9);
  EXPECT_NEAR(svcca(shifted, y).value, svcca(x, y).value, 1e-9);
  EXPECT_NEAR(pwcca(shifted, y).value, pwcca(x, y).value, 1e-9);
  EXPECT_NEAR(linear_cka(shifted, y).value, linear_cka(x, y).value, 1e-9);
  EXPECT_NEAR(rbf_cka(shifted, y).value, rbf_cka(x, y).value, 1e-9);
  EXPECT_NEAR(procrustes(shifted, y).value, procrustes(x, y).value, 1e-9);
}

TEST_F(Properties, SymmetricIndicesAreSymmetric) {
  EXPECT_NEAR(cca(x, y).value, cca(y, x).value, 1e-10);
  EXPECT_NEAR(svcca(x, y).value, svcca(y, x).value, 1e-10);
  EXPECT_NEAR(linear_cka(x, y).value, linear_cka(y, x).value, 1e-12);
  EXPECT_NEAR(rbf_cka(x, y).value, rbf_cka(y, x).value, 1e-12);
  EXPECT_NEAR(procrustes(x, y).value, procrustes(y, x).value, 1e-10);
}

TEST_F(Properties, ValuesStayInTheirRanges) {
  for (uint64_t seed = 10; seed < 15; ++seed) {
    const Eigen::MatrixXd a = gaussian(300, 8, seed),
                          b = related(a, 6, 0.5 * (seed - 9), seed + 100);
    const auto c = cca(a, b);
    EXPECT_GE(c.rho.minCoeff(), 0.0);
    EXPECT_LE(c.rho.maxCoeff(), 1.0);
    EXPECT_TRUE(std::is_sorted(c.rho.data(), c.rho.data() + c.rho.size(), std::greater<>()));
    EXPECT_LE(c.r2, c.value);  // mean ρ² ≤ mean ρ for ρ in [0, 1]
    const double cka = linear_cka(a, b).value;
    EXPECT_GE(cka, 0.0);
    EXPECT_LE(cka, 1.0);
    const auto p = procrustes(a, b);
    EXPECT_GE(p.value, 0.0);
    EXPECT_LE(p.value, 2.0);
    EXPECT_GE(p.angular, 0.0);
    EXPECT_LE(p.angular, M_PI / 2);
  }
}

TEST_F(Properties, IdenticalInputsGiveOneOrDistanceZero) {
  EXPECT_NEAR(cca(x, x).value, 1.0, 1e-10);
  EXPECT_NEAR(svcca(x, x).value, 1.0, 1e-10);
  EXPECT_NEAR(pwcca(x, x).value, 1.0, 1e-10);
  EXPECT_NEAR(linear_cka(x, x).value, 1.0, 1e-12);
  EXPECT_NEAR(linear_cka(x, x, CkaOptions().debiased(true)).value, 1.0, 1e-12);
  EXPECT_NEAR(rbf_cka(x, x).value, 1.0, 1e-12);
  EXPECT_NEAR(procrustes(x, x).value, 0.0, 1e-10);
  EXPECT_NEAR(procrustes(x, x).angular, 0.0, 1e-5);
}

TEST_F(Properties, ProcrustesDistanceIsZeroUpToRotationAndScale) {
  const Eigen::MatrixXd q = random_orthogonal(12, 9);
  EXPECT_NEAR(procrustes(x, 2.5 * x * q).value, 0.0, 1e-10);
}

TEST(PropertiesIndependent, IndependentDataGivesCkaNearZero) {
  const Eigen::MatrixXd a = gaussian(4000, 10, 21), b = gaussian(4000, 10, 22);
  // Biased linear CKA of independent data is O(p/n); the debiased one is centred on 0.
  EXPECT_LT(linear_cka(a, b).value, 0.02);
  EXPECT_NEAR(linear_cka(a, b, CkaOptions().debiased(true)).value, 0.0, 0.01);
  // CCA correlations of independent data are small but not 0 (sampling noise ~ √(p/n)).
  EXPECT_LT(cca(a, b).value, 0.1);
}

TEST(PropertiesGram, SampleSpacePathAgreesWithFeatureSpace) {
  // p + q > n switches linear CKA to n×n Gram matrices; the value must not change.
  const Eigen::MatrixXd a = gaussian(40, 30, 5), b = related(a, 25, 1.0, 6);
  const double narrow = linear_cka(a.leftCols(15), b.leftCols(15)).value;
  const double direct = [&] {
    Eigen::MatrixXd ac = a.leftCols(15).rowwise() - a.leftCols(15).colwise().mean();
    Eigen::MatrixXd bc = b.leftCols(15).rowwise() - b.leftCols(15).colwise().mean();
    return (ac.transpose() * bc).squaredNorm() /
           ((ac.transpose() * ac).norm() * (bc.transpose() * bc).norm());
  }();
  EXPECT_NEAR(narrow, direct, 1e-12);
  for (const bool debiased : {false, true}) {
    const auto options = CkaOptions().debiased(debiased);
    // Constant padding columns are dropped, but widen the input past n: the Gram path runs.
    Eigen::MatrixXd pa(40, 60), pb(40, 50);
    pa << a, Eigen::MatrixXd::Constant(40, 30, 1.0);
    pb << b, Eigen::MatrixXd::Constant(40, 25, 1.0);
    EXPECT_NEAR(linear_cka(a, b, options).value, linear_cka(pa, pb, options).value, 1e-9);
  }
}

TEST(PropertiesPrecision, Float32ProductsAgreeWithFloat64) {
  const Eigen::MatrixXd a = gaussian(5000, 64, 31), b = related(a, 64, 3.0, 32);
  const Eigen::MatrixXf af = a.cast<float>(), bf = b.cast<float>();
  const auto f32 = Precision::kFloat32;
  EXPECT_NEAR(cca(af, bf, {}, f32).value, cca(af, bf).value, 1e-4);
  EXPECT_NEAR(svcca(af, bf, {}, f32).value, svcca(af, bf).value, 1e-4);
  EXPECT_NEAR(linear_cka(af, bf, {}, f32).value, linear_cka(af, bf).value, 1e-5);
  EXPECT_NEAR(procrustes(af, bf, f32).value, procrustes(af, bf).value, 1e-5);
}

TEST(PropertiesCoefficients, CanonicalVariatesHaveTheReportedCorrelations) {
  const Eigen::MatrixXd a = gaussian(500, 6, 41), b = related(a, 5, 1.5, 42);
  const auto r = cca(a, b, CcaOptions().compute_coefficients(true));
  ASSERT_EQ(r.coef_x.cols(), r.rho.size());
  const Eigen::MatrixXd ac = a.rowwise() - a.colwise().mean();
  const Eigen::MatrixXd bc = b.rowwise() - b.colwise().mean();
  const Eigen::MatrixXd u = ac * r.coef_x, v = bc * r.coef_y;
  for (Eigen::Index i = 0; i < r.rho.size(); ++i) {
    const double corr = u.col(i).dot(v.col(i)) / (u.col(i).norm() * v.col(i).norm());
    EXPECT_NEAR(corr, r.rho(i), 1e-9);
    EXPECT_NEAR(u.col(i).norm(), 1.0, 1e-9);  // unit-norm variates
  }
}

}  // namespace
}  // namespace layerwatch::similarity

namespace layerwatch::similarity {
namespace {

// Independent SVCCA: Eigen's SVD of each centred side, keep `kx` / `ky` leading directions (or,
// when 0, the fewest holding 99 % of the singular-value mass), then the singular values of the
// product of the two left bases.
double svcca_by_explicit_svd(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y,
                             Eigen::Index kx = 0, Eigen::Index ky = 0) {
  const auto basis = [](const Eigen::MatrixXd& a, Eigen::Index k) {
    const Eigen::MatrixXd c = a.rowwise() - a.colwise().mean();
    Eigen::BDCSVD<Eigen::MatrixXd> svd(c, Eigen::ComputeThinU);
    const Eigen::VectorXd s = svd.singularValues();
    if (k == 0) {
      const double total = s.sum();
      double mass = 0;
      while (k < s.size() && mass < 0.99 * total) mass += s(k++);
    }
    return Eigen::MatrixXd(svd.matrixU().leftCols(k));
  };
  const Eigen::MatrixXd m = basis(x, kx).transpose() * basis(y, ky);
  return Eigen::BDCSVD<Eigen::MatrixXd>(m).singularValues().mean();
}

// Columns scaled so that the spectrum falls off geometrically from 1 to `smallest`.
Eigen::MatrixXd spread_spectrum(const Eigen::MatrixXd& a, double smallest) {
  const auto p = a.cols();
  Eigen::VectorXd scale(p);
  for (Eigen::Index j = 0; j < p; ++j) {
    scale(j) = std::pow(smallest, static_cast<double>(j) / static_cast<double>(p - 1));
  }
  return a * scale.asDiagonal();
}

TEST(PropertiesSvcca, EveryWhiteningFormMatchesAnExplicitSvd) {
  // Few directions discarded (Cholesky of the lifted covariance plus a projector), most
  // discarded (the truncated eigenbasis), a spectrum too spread for the lifted Cholesky (the
  // eigenbasis again), and the default 99 % reduction.
  const Eigen::MatrixXd x = testing::gaussian(3000, 40, 21);
  const Eigen::MatrixXd y = testing::related(x, 36, 1.5, 22);
  const Eigen::MatrixXd spread = spread_spectrum(x, 1e-6);
  struct Case {
    const Eigen::MatrixXd& a;
    const Eigen::MatrixXd& b;
    int64_t k;
  };
  for (const auto& [a, b, k] :
       {Case{x, y, 36}, Case{x, y, 30}, Case{x, y, 5}, Case{spread, y, 30}, Case{y, spread, 30}}) {
    const auto r = svcca(a, b, SvccaOptions().reduction(SvccaReduction::kFixedDims).dims(k));
    ASSERT_TRUE(has_value(r.status)) << r.message;
    EXPECT_EQ(r.kept_x, k);
    EXPECT_EQ(r.rho.size(), k);
    EXPECT_NEAR(r.value, svcca_by_explicit_svd(a, b, k, k), 1e-9) << "k = " << k;
  }
  const auto r = svcca(x, y);
  ASSERT_TRUE(has_value(r.status)) << r.message;
  EXPECT_NEAR(r.value, svcca_by_explicit_svd(x, y), 1e-9);
  EXPECT_GT(r.kept_x, 20);  // the lifted form: few directions discarded
}

TEST(PropertiesWide, SvccaWithMoreFeaturesThanSamplesMatchesAnExplicitSvd) {
  // Low-rank wide data, so that the 99 % reduction leaves far fewer directions than samples.
  const Eigen::MatrixXd latent = testing::gaussian(400, 30, 11);
  const Eigen::MatrixXd wide =
      latent * testing::gaussian(30, 900, 12) + 0.01 * testing::gaussian(400, 900, 13);
  const Eigen::MatrixXd narrow = testing::related(latent, 60, 0.3, 14);
  const Eigen::MatrixXd wide2 = testing::related(latent, 700, 0.05, 15);
  for (const auto& [x, y] :
       {std::pair{&wide, &narrow}, std::pair{&narrow, &wide}, std::pair{&wide, &wide2}}) {
    const auto r = svcca(*x, *y);
    ASSERT_TRUE(has_value(r.status)) << r.message;
    EXPECT_NEAR(r.value, svcca_by_explicit_svd(*x, *y), 1e-9);
    EXPECT_LT(r.kept_x, 400);
  }
  // float32 products take the same route.
  const auto r32 = svcca(Eigen::MatrixXf(wide.cast<float>()), Eigen::MatrixXf(narrow.cast<float>()),
                         {}, Precision::kFloat32);
  EXPECT_NEAR(r32.value, svcca_by_explicit_svd(wide, narrow), 1e-4);
}

}  // namespace
}  // namespace layerwatch::similarity
