// Reusing a snapshot's factorization gives the same values as fresh computations.

#include <gtest/gtest.h>

#include <Eigen/SVD>
#include <thread>

#include "layerwatch/similarity/similarity.h"
#include "test_util.h"

namespace layerwatch::similarity {
namespace {

using layerwatch::testing::gaussian;
using layerwatch::testing::related;

TEST(Factorization, ReusedSnapshotGivesFreshValues) {
  const Eigen::MatrixXd a = gaussian(800, 16, 1), b = related(a, 16, 1.0, 2),
                        c = related(a, 12, 3.0, 3);
  Activations sa(a), sb(b), sc(c);
  sb.factorize();
  EXPECT_NEAR(ActivationPair(sa, sb).svcca().value, svcca(a, b).value, 1e-10);
  EXPECT_NEAR(ActivationPair(sb, sc).svcca().value, svcca(b, c).value, 1e-10);
  EXPECT_NEAR(ActivationPair(sb, sc).cca().value, cca(b, c).value, 1e-10);
  EXPECT_NEAR(ActivationPair(sb, sc).linear_cka().value, linear_cka(b, c).value, 1e-12);
  EXPECT_NEAR(ActivationPair(sb, sc).procrustes().value, procrustes(b, c).value, 1e-10);
}

TEST(Factorization, CachedWhiteningFollowsTheAskedDimension) {
  // Each side caches the whitening of the last SVCCA dimension; asking for another one must
  // not reuse it.
  const Eigen::MatrixXd a = gaussian(900, 20, 7), b = related(a, 18, 2.0, 8);
  Activations sa(a), sb(b);
  ActivationPair pair(sa, sb);
  for (const int64_t k : {15, 4, 15, 17}) {
    const auto options = SvccaOptions().reduction(SvccaReduction::kFixedDims).dims(k);
    const auto reused = pair.svcca(options);
    EXPECT_EQ(reused.kept_x, k);
    EXPECT_NEAR(reused.value, svcca(a, b, options).value, 1e-12) << "k = " << k;
  }
  EXPECT_NEAR(pair.svcca().value, svcca(a, b).value, 1e-12);
}

TEST(Factorization, SingularValuesMatchTheCentredData) {
  const Eigen::MatrixXd a = gaussian(300, 7, 4);
  const Eigen::MatrixXd centred = a.rowwise() - a.colwise().mean();
  Eigen::JacobiSVD<Eigen::MatrixXd> svd(centred);
  const Eigen::VectorXd s = Activations(a).singular_values();
  EXPECT_LT((s - svd.singularValues()).cwiseAbs().maxCoeff(), 1e-9);
}

TEST(Factorization, ConcurrentFactorizeIsSafe) {
  const Eigen::MatrixXd a = gaussian(400, 24, 5);
  Activations shared(a);
  std::vector<std::thread> threads;
  std::vector<double> first(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] { first[t] = shared.singular_values()(0); });
  }
  for (auto& th : threads) th.join();
  for (int t = 1; t < 4; ++t) EXPECT_EQ(first[t], first[0]);
}

TEST(Factorization, PairsOfDifferentPrecisionAreRejected) {
  const Eigen::MatrixXd a = gaussian(100, 4, 6);
  EXPECT_THROW(ActivationPair(Activations(a), Activations(a, Precision::kFloat32)),
               std::invalid_argument);
}

}  // namespace
}  // namespace layerwatch::similarity
