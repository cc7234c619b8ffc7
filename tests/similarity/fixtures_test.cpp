// Agreement with the reference values in shared/fixtures/similarity/expected.json.

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "layerwatch/io/npy_reader.h"
#include "layerwatch/similarity/similarity.h"
#include "test_util.h"

namespace layerwatch::similarity {
namespace {

using layerwatch::testing::fixture_path;

nlohmann::json expected() {
  std::ifstream in(fixture_path("expected.json"));
  return nlohmann::json::parse(in);
}

struct FixturePair {
  io::SampleMatrix x, y;
};

FixturePair load(const nlohmann::json& entry) {
  return {io::to_sample_matrix(io::read_npy(fixture_path(entry["x"].get<std::string>()))),
          io::to_sample_matrix(io::read_npy(fixture_path(entry["y"].get<std::string>())))};
}

// Runs `check` on the fixture with its own dtype (float32 fixtures stay float32).
template <typename Check>
void with_fixture(const std::string& key, Check check) {
  const auto all = expected();
  const auto& entry = all[key];
  const auto pair = load(entry);
  if (pair.x.dtype == io::DType::kFloat32) {
    check(entry, pair.x.f32, pair.y.f32);
  } else {
    check(entry, pair.x.f64, pair.y.f64);
  }
}

constexpr double kTol = 1e-6;

class Fixture : public ::testing::TestWithParam<std::string> {};

TEST_P(Fixture, MeanCcaAndR2MatchReference) {
  with_fixture(GetParam(), [](const auto& e, const auto& x, const auto& y) {
    const auto r = cca(x, y);
    ASSERT_TRUE(has_value(r.status)) << r.message;
    EXPECT_NEAR(r.value, e["mean_cca"].template get<double>(), kTol);
    EXPECT_NEAR(r.r2, e["r2_cca"].template get<double>(), kTol);
  });
}

TEST_P(Fixture, PwccaMatchesReference) {
  with_fixture(GetParam(), [](const auto& e, const auto& x, const auto& y) {
    const auto r = pwcca(x, y);
    ASSERT_TRUE(has_value(r.status)) << r.message;
    EXPECT_NEAR(r.value, e["pwcca"].template get<double>(), 1e-3);
    // Swapping the inputs weighs by the same (narrower) side; on a tie, by the first input.
    if (x.cols() != y.cols()) {
      EXPECT_NEAR(pwcca(y, x).value, r.value, 1e-9);
      EXPECT_EQ(pwcca(y, x).weighted_by_x, !r.weighted_by_x);
    }
  });
}

TEST_P(Fixture, LinearCkaMatchesReference) {
  with_fixture(GetParam(), [](const auto& e, const auto& x, const auto& y) {
    EXPECT_NEAR(linear_cka(x, y).value, e["linear_cka"].template get<double>(), kTol);
    EXPECT_NEAR(linear_cka(x, y, CkaOptions().debiased(true)).value,
                e["linear_cka_debiased"].template get<double>(), kTol);
  });
}

TEST_P(Fixture, ProcrustesMatchesReference) {
  with_fixture(GetParam(), [](const auto& e, const auto& x, const auto& y) {
    const auto r = procrustes(x, y);
    ASSERT_EQ(r.status, Status::kOk);
    EXPECT_NEAR(r.value, e["procrustes"].template get<double>(), kTol);
  });
}

INSTANTIATE_TEST_SUITE_P(Similarity, Fixture, ::testing::Values("kornblith", "relu_tanh"));

TEST(FixtureKornblith, RbfCkaMatchesReference) {
  with_fixture("kornblith", [](const auto& e, const auto& x, const auto& y) {
    EXPECT_NEAR(rbf_cka(x, y, RbfCkaOptions().threshold(0.5)).value,
                e["rbf_cka_threshold_0.5"].template get<double>(), kTol);
    EXPECT_NEAR(rbf_cka(x, y, RbfCkaOptions().threshold(0.5).debiased(true)).value,
                e["rbf_cka_threshold_0.5_debiased"].template get<double>(), kTol);
  });
}

TEST(FixtureReluTanh, SvccaKeepsReferenceDimsAndValue) {
  with_fixture("relu_tanh", [](const auto& e, const auto& x, const auto& y) {
    const auto r = svcca(x, y);
    ASSERT_TRUE(has_value(r.status)) << r.message;
    EXPECT_EQ(r.kept_x, e["svcca_kept_dims"][0].template get<int64_t>());
    EXPECT_EQ(r.kept_y, e["svcca_kept_dims"][1].template get<int64_t>());
    EXPECT_NEAR(r.value, e["svcca_singular_0.99"].template get<double>(), kTol);
  });
}

TEST(FixtureReluTanh, Float32PrecisionAgreesWithFloat64) {
  with_fixture("relu_tanh", [](const auto& e, const auto& x, const auto& y) {
    const auto r = cca(x, y, CcaOptions().precision(Precision::kFloat32));
    EXPECT_NEAR(r.value, e["mean_cca"].template get<double>(), 1e-4);
    const auto s = svcca(x, y, SvccaOptions().precision(Precision::kFloat32));
    EXPECT_NEAR(s.value, e["svcca_singular_0.99"].template get<double>(), 1e-4);
  });
}

}  // namespace
}  // namespace layerwatch::similarity
