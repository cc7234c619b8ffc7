// Agreement with reference values: the project's own pairs (numpy, tests/make_reference_data.py)
// and, when the checkout has them beside it, the shared fixtures. A set that is absent is
// skipped with the reason.

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "layerwatch/io/npy.h"
#include "layerwatch/similarity/similarity.h"
#include "test_util.h"

namespace layerwatch::similarity {
namespace {

constexpr double kTol = 1e-6;

class Reference : public layerwatch::testing::ReferenceSetTest {
 protected:
  // Calls check(entry, x, y) for every pair of the set, with the matrices as stored (float32
  // pairs stay float32).
  template <typename Check>
  void for_each_pair(Check check) {
    for (const auto& [key, entry] : expected_.items()) {
      SCOPED_TRACE(GetParam() + "/" + key);
      const Matrix x = io::to_sample_matrix(io::read_npy(set_.path(entry["x"])));
      const Matrix y = io::to_sample_matrix(io::read_npy(set_.path(entry["y"])));
      check(entry, x, y);
    }
  }
};

TEST_P(Reference, MeanCcaAndR2Match) {
  for_each_pair([](const auto& e, const Matrix& x, const Matrix& y) {
    const auto r = cca(x, y);
    ASSERT_TRUE(has_value(r.status)) << r.message;
    EXPECT_NEAR(r.value, e["mean_cca"].template get<double>(), kTol);
    EXPECT_NEAR(r.r2, e["r2_cca"].template get<double>(), kTol);
  });
}

TEST_P(Reference, PwccaMatches) {
  for_each_pair([](const auto& e, const Matrix& x, const Matrix& y) {
    const auto r = pwcca(x, y);
    ASSERT_TRUE(has_value(r.status)) << r.message;
    EXPECT_NEAR(r.value, e["pwcca"].template get<double>(), 1e-9);
    // Swapping the inputs weighs by the same (narrower) side; on a tie, by the first input.
    if (x.cols() != y.cols()) {
      EXPECT_NEAR(pwcca(y, x).value, r.value, 1e-9);
      EXPECT_EQ(pwcca(y, x).weighted_by_x, !r.weighted_by_x);
    }
  });
}

TEST_P(Reference, LinearCkaMatches) {
  for_each_pair([](const auto& e, const Matrix& x, const Matrix& y) {
    EXPECT_NEAR(linear_cka(x, y).value, e["linear_cka"].template get<double>(), kTol);
    EXPECT_NEAR(linear_cka(x, y, CkaOptions().debiased(true)).value,
                e["linear_cka_debiased"].template get<double>(), kTol);
  });
}

TEST_P(Reference, ProcrustesMatches) {
  for_each_pair([](const auto& e, const Matrix& x, const Matrix& y) {
    const auto r = procrustes(x, y);
    ASSERT_EQ(r.status, Status::kOk);
    EXPECT_NEAR(r.value, e["procrustes"].template get<double>(), kTol);
  });
}

TEST_P(Reference, RbfCkaMatches) {
  int checked = 0;
  for_each_pair([&](const auto& e, const Matrix& x, const Matrix& y) {
    if (!e.contains("rbf_cka_threshold_0.5")) return;
    ++checked;
    EXPECT_NEAR(rbf_cka(x, y, RbfCkaOptions().threshold(0.5)).value,
                e["rbf_cka_threshold_0.5"].template get<double>(), kTol);
    EXPECT_NEAR(rbf_cka(x, y, RbfCkaOptions().threshold(0.5).debiased(true)).value,
                e["rbf_cka_threshold_0.5_debiased"].template get<double>(), kTol);
  });
  EXPECT_GT(checked, 0);
}

TEST_P(Reference, SvccaKeepsTheReferenceDimsAndValue) {
  int checked = 0;
  for_each_pair([&](const auto& e, const Matrix& x, const Matrix& y) {
    if (!e.contains("svcca_singular_0.99")) return;
    ++checked;
    const auto r = svcca(x, y);
    ASSERT_TRUE(has_value(r.status)) << r.message;
    EXPECT_EQ(r.kept_x, e["svcca_kept_dims"][0].template get<int64_t>());
    EXPECT_EQ(r.kept_y, e["svcca_kept_dims"][1].template get<int64_t>());
    EXPECT_NEAR(r.value, e["svcca_singular_0.99"].template get<double>(), kTol);
  });
  EXPECT_GT(checked, 0);
}

TEST_P(Reference, Float32ProductsAgreeWithTheFloat64Reference) {
  for_each_pair([](const auto& e, const Matrix& x, const Matrix& y) {
    EXPECT_NEAR(cca(x, y, {}, Precision::kFloat32).value, e["mean_cca"].template get<double>(),
                1e-4);
    if (e.contains("svcca_singular_0.99")) {
      EXPECT_NEAR(svcca(x, y, {}, Precision::kFloat32).value,
                  e["svcca_singular_0.99"].template get<double>(), 1e-4);
    }
  });
}

INSTANTIATE_TEST_SUITE_P(Similarity, Reference, ::testing::Values("project", "shared"));

}  // namespace
}  // namespace layerwatch::similarity
