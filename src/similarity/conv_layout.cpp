#include "layerwatch/similarity/conv_layout.h"

#include <fmt/format.h>

#include "core/parse_name.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>

namespace layerwatch::similarity {
namespace {

// splitmix64: a fixed, portable generator, so the kept positions do not depend on the
// standard library's distribution implementations.
uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

}  // namespace

std::vector<int64_t> spatial_sample_rows(int64_t total, int64_t max_samples, uint64_t seed) {
  std::vector<int64_t> rows(static_cast<size_t>(total));
  std::iota(rows.begin(), rows.end(), 0);
  if (max_samples <= 0 || max_samples >= total) return rows;
  uint64_t state = seed;
  // Partial Fisher-Yates: the first max_samples entries are a uniform sample.
  for (int64_t i = 0; i < max_samples; ++i) {
    const auto j = i + static_cast<int64_t>(splitmix64(state) % static_cast<uint64_t>(total - i));
    std::swap(rows[i], rows[j]);
  }
  rows.resize(static_cast<size_t>(max_samples));
  std::sort(rows.begin(), rows.end());
  return rows;
}

template <typename Scalar>
Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> conv_to_matrix(
    const Scalar* data, const std::array<int64_t, 4>& shape, const ConvLayoutOptions& options) {
  const auto [n, c, h, w] = shape;
  if (n < 0 || c < 0 || h < 0 || w < 0) {
    throw std::invalid_argument(fmt::format(
        "conv activations need a (N, C, H, W) shape, got ({}, {}, {}, {})", n, c, h, w));
  }
  using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  const int64_t plane = h * w;
  switch (options.layout()) {
    case ConvLayout::kSpatial: {
      const auto rows = spatial_sample_rows(n * plane, options.max_samples(), options.seed());
      Matrix out(static_cast<Eigen::Index>(rows.size()), c);
      for (size_t r = 0; r < rows.size(); ++r) {
        const int64_t example = rows[r] / plane, position = rows[r] % plane;
        const Scalar* base = data + example * c * plane + position;
        for (int64_t ch = 0; ch < c; ++ch) out(static_cast<Eigen::Index>(r), ch) = base[ch * plane];
      }
      return out;
    }
    case ConvLayout::kFlatten: {
      Matrix out(n, c * plane);
      for (int64_t i = 0; i < n; ++i) {
        for (int64_t f = 0; f < c * plane; ++f) out(i, f) = data[i * c * plane + f];
      }
      return out;
    }
    case ConvLayout::kPool: {
      const int64_t s = options.pool_size();
      if (s < 1 || s > h || s > w) {
        throw std::invalid_argument(fmt::format(
            "pool_size must be in [1, min(H, W)] = [1, {}], got {}", std::min(h, w), s));
      }
      Matrix out(n, c * s * s);
      for (int64_t i = 0; i < n; ++i) {
        for (int64_t ch = 0; ch < c; ++ch) {
          const Scalar* base = data + (i * c + ch) * plane;
          for (int64_t a = 0; a < s; ++a) {
            const int64_t h0 = a * h / s, h1 = ((a + 1) * h + s - 1) / s;
            for (int64_t b = 0; b < s; ++b) {
              const int64_t w0 = b * w / s, w1 = ((b + 1) * w + s - 1) / s;
              double sum = 0;
              for (int64_t y = h0; y < h1; ++y) {
                for (int64_t x = w0; x < w1; ++x) sum += base[y * w + x];
              }
              out(i, (ch * s + a) * s + b) =
                  static_cast<Scalar>(sum / static_cast<double>((h1 - h0) * (w1 - w0)));
            }
          }
        }
      }
      return out;
    }
  }
  throw std::invalid_argument("unknown conv layout");
}

template Eigen::MatrixXf conv_to_matrix(const float*, const std::array<int64_t, 4>&,
                                        const ConvLayoutOptions&);
template Eigen::MatrixXd conv_to_matrix(const double*, const std::array<int64_t, 4>&,
                                        const ConvLayoutOptions&);

const char* to_string(ConvLayout layout) noexcept {
  switch (layout) {
    case ConvLayout::kSpatial:
      return "spatial";
    case ConvLayout::kFlatten:
      return "flatten";
    case ConvLayout::kPool:
      return "pool";
  }
  return "unknown";
}

const std::vector<ConvLayout>& all_conv_layouts() {
  static const std::vector<ConvLayout> kAll = {ConvLayout::kSpatial, ConvLayout::kFlatten,
                                               ConvLayout::kPool};
  return kAll;
}

ConvLayout parse_conv_layout(const std::string& name) {
  return layerwatch::detail::parse_name(name, all_conv_layouts(), "conv layout");
}

}  // namespace layerwatch::similarity
