// Class-logit CCA against the multiple correlation computed directly by least squares
// (tests/make_probe_data.py), and its SVCCA form on a layer wider than the probe set.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "layerwatch/io/activation_file.h"
#include "layerwatch/probing/class_logit_cca.h"
#include "test_util.h"

namespace layerwatch::probing {
namespace {

using layerwatch::testing::gaussian;
using layerwatch::testing::test_data_path;

TEST(ClassLogitCca, EqualsTheMultipleCorrelationOfEachLogit) {
  const std::string dir = test_data_path("probe");
  if (!std::filesystem::exists(dir + "/expected.json")) {
    GTEST_SKIP() << dir << " is missing: run ctest, whose make_test_data test writes it";
  }
  std::ifstream in(dir + "/expected.json");
  const auto expected = nlohmann::json::parse(in)["multiple_correlation"];
  const Matrix acts = io::read_sample_matrix(dir + "/activations.npy");
  const Matrix logits = io::read_sample_matrix(dir + "/logits.npy");
  const auto r =
      class_logit_cca(acts, logits, ClassLogitOptions().metric(similarity::Metric::kCca));
  ASSERT_EQ(r.size(), expected.size());
  for (size_t c = 0; c < r.size(); ++c) {
    ASSERT_EQ(r[c].status, Status::kOk) << r[c].message;
    EXPECT_NEAR(r[c].value, expected[c].get<double>(), 1e-9) << "class " << c;
    EXPECT_EQ(r[c].rho.size(), 1);
  }
  // SVCCA keeping every direction is the same number.
  const auto all = class_logit_cca(acts, logits,
                                   ClassLogitOptions().svcca(similarity::SvccaOptions().keep(1.0)));
  for (size_t c = 0; c < r.size(); ++c) EXPECT_NEAR(all[c].value, r[c].value, 1e-9);
}

TEST(ClassLogitCca, SvccaKeepsAWideLayerFromFittingNoise) {
  // 60 features, 100 examples: plain CCA fits a noise logit with R² ≈ 60/100; SVCCA reduced
  // to 10 directions, with R² ≈ 10/100. (With more features than examples CCA has no value.)
  const Eigen::MatrixXd layer = gaussian(100, 60, 1);
  const Eigen::MatrixXd noise_logit = gaussian(100, 1, 2);
  const auto cca =
      class_logit_cca(layer, noise_logit, ClassLogitOptions().metric(similarity::Metric::kCca));
  const auto svcca = class_logit_cca(
      layer, noise_logit,
      ClassLogitOptions().svcca(
          similarity::SvccaOptions().reduction(similarity::SvccaReduction::kFixedDims).dims(10)));
  EXPECT_GT(cca[0].value, 0.65);
  EXPECT_LT(svcca[0].value, 0.5);
  const auto too_wide = class_logit_cca(gaussian(100, 120, 4), noise_logit,
                                        ClassLogitOptions().metric(similarity::Metric::kCca));
  EXPECT_FALSE(has_value(too_wide[0].status)) << too_wide[0].value;
  EXPECT_FALSE(too_wide[0].message.empty());
  EXPECT_THROW(class_logit_cca(layer, gaussian(99, 2, 3)), std::invalid_argument);
}

}  // namespace
}  // namespace layerwatch::probing
