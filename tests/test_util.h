#pragma once
// Helpers shared by the tests: fixture paths and seeded random matrices.

#include <Eigen/Core>
#include <cstdint>
#include <random>
#include <string>

namespace layerwatch::testing {

inline std::string fixture_path(const std::string& name) {
  return std::string(LAYERWATCH_FIXTURES_DIR) + "/similarity/" + name;
}

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
