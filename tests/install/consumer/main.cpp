// Uses the torch-free headers and library: exits 0 when linear CKA of a matrix with itself is 1
// and the monitor's default config reads back unchanged.
#include <layerwatch/core/version.h>
#include <layerwatch/monitor_options.h>
#include <layerwatch/similarity/similarity.h>

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

// layerwatch_core must not put LibTorch's headers on the include path of its users.
#if __has_include(<torch/torch.h>)
#error "LibTorch's headers are on the include path of a layerwatch_core consumer"
#endif

int main() {
  Eigen::MatrixXd x = Eigen::MatrixXd::Random(200, 5);
  const auto r = layerwatch::similarity::linear_cka(x, x);
  const auto options = layerwatch::monitor_options_from_json(to_json(layerwatch::MonitorOptions()));
  std::printf("layerwatch %s: linear CKA(x, x) = %.12f (%s)\n", layerwatch::kVersion, r.value,
              layerwatch::to_string(r.status));
  const bool same = layerwatch::options_equal(options, layerwatch::MonitorOptions());
  return std::abs(r.value - 1.0) < 1e-12 && same ? 0 : 1;
}
