#pragma once
// The one colour scale of layerwatch's heatmaps (the HTML report and the TensorBoard image):
// a perceptually uniform dark-blue → green → yellow ramp (matplotlib's "viridis" anchors).

#include <cstdint>
#include <string>

namespace layerwatch::detail {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
};

/// Colour of `t` in [0, 1] (clamped; NaN gives grey).
Rgb viridis(double t) noexcept;
/// "#rrggbb".
std::string to_hex(Rgb colour);

}  // namespace layerwatch::detail
