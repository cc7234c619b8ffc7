#pragma once
// Helpers shared by the tests: reference data, test data paths and seeded random matrices.

#include <gtest/gtest.h>
#include <Eigen/Core>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

namespace layerwatch::testing {

/// A directory of reference activation pairs with their expected index values
/// (expected.json: per pair its files "x", "y" and values such as "mean_cca").
struct ReferenceSet {
  std::string name;
  std::string dir;
  /// Why the set cannot be used here, or empty.
  std::string missing() const {
    if (std::filesystem::exists(dir + "/expected.json")) return "";
    return name == "shared"
               ? "the shared fixtures (" + dir +
                     ") are absent, as in a user's clone; the project's own reference data "
                     "covers the same indices"
               : "the project's reference data (" + dir +
                     ") is missing: run ctest, whose make_test_data test writes it";
  }
  std::string path(const std::string& file) const { return dir + "/" + file; }
  /// expected.json: per pair its files "x", "y" and the reference values.
  nlohmann::json expected() const {
    std::ifstream in(path("expected.json"));
    return nlohmann::json::parse(in);
  }
};

/// The project's own reference pairs (written by tests/make_reference_data.py from numpy), and
/// the shared fixtures beside the checkout, when they are there.
inline ReferenceSet reference_set(const std::string& name) {
  if (name == "shared") return {name, std::string(LAYERWATCH_FIXTURES_DIR) + "/similarity"};
  return {name, std::string(LAYERWATCH_TEST_DATA) + "/similarity"};
}

/// A test over the reference sets by name ("project", "shared"): skips with the reason when the
/// set is absent, else holds it and its expected values.
class ReferenceSetTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    set_ = reference_set(GetParam());
    const std::string missing = set_.missing();
    if (!missing.empty()) GTEST_SKIP() << missing;
    expected_ = set_.expected();
  }
  ReferenceSet set_;
  nlohmann::json expected_;
};

inline std::string test_data_path(const std::string& name) {
  return std::string(LAYERWATCH_TEST_DATA) + "/" + name;
}

/// n×p standard normal matrix from a fixed seed.
inline Eigen::MatrixXd gaussian(Eigen::Index n, Eigen::Index p, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  Eigen::MatrixXd m(n, p);
  for (Eigen::Index j = 0; j < p; ++j)
    for (Eigen::Index i = 0; i < n; ++i) m(i, j) = normal(rng);
  return m;
}

/// Random orthogonal p×p matrix (QR of a Gaussian matrix).
Eigen::MatrixXd random_orthogonal(Eigen::Index p, uint64_t seed);

/// Data with shared structure: y = x·A + noise, so indices land strictly between 0 and 1.
inline Eigen::MatrixXd related(const Eigen::MatrixXd& x, Eigen::Index q, double noise,
                               uint64_t seed) {
  const Eigen::MatrixXd a = gaussian(x.cols(), q, seed);
  return x * a + noise * gaussian(x.rows(), q, seed + 1);
}

}  // namespace layerwatch::testing

#include <Eigen/QR>

inline Eigen::MatrixXd layerwatch::testing::random_orthogonal(Eigen::Index p, uint64_t seed) {
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(gaussian(p, p, seed));
  return qr.householderQ() * Eigen::MatrixXd::Identity(p, p);
}
