// Uses the installed headers and library: exits 0 when linear CKA of a matrix with itself is 1.
#include <layerwatch/similarity/similarity.h>

#include <cmath>
#include <cstdio>

int main() {
  Eigen::MatrixXd x = Eigen::MatrixXd::Random(200, 5);
  const auto r = layerwatch::similarity::linear_cka(x, x);
  std::printf("linear CKA(x, x) = %.12f (%s)\n", r.value, layerwatch::to_string(r.status));
  return std::abs(r.value - 1.0) < 1e-12 ? 0 : 1;
}
