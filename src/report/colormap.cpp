#include "colormap.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>

namespace layerwatch::detail {

Rgb viridis(double t) noexcept {
  static constexpr std::array<Rgb, 9> kAnchors{{{68, 1, 84},
                                                {72, 40, 120},
                                                {59, 82, 139},
                                                {44, 114, 142},
                                                {33, 145, 140},
                                                {40, 174, 128},
                                                {94, 201, 98},
                                                {173, 220, 48},
                                                {253, 231, 37}}};
  if (std::isnan(t)) return {160, 160, 160};
  const double x = std::clamp(t, 0.0, 1.0) * (kAnchors.size() - 1);
  const auto i = std::min<std::size_t>(static_cast<std::size_t>(x), kAnchors.size() - 2);
  const double f = x - static_cast<double>(i);
  const auto mix = [f](uint8_t a, uint8_t b) {
    return static_cast<uint8_t>(std::lround(a + f * (static_cast<double>(b) - a)));
  };
  const Rgb& a = kAnchors[i];
  const Rgb& b = kAnchors[i + 1];
  return {mix(a.r, b.r), mix(a.g, b.g), mix(a.b, b.b)};
}

std::string to_hex(Rgb c) { return fmt::format("#{:02x}{:02x}{:02x}", c.r, c.g, c.b); }

}  // namespace layerwatch::detail
