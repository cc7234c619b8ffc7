#pragma once
// A minimal PNG encoder (8-bit RGB, no interlacing, filter 0) for the image summaries of the
// TensorBoard sink.

#include <cstdint>
#include <string>
#include <vector>

namespace layerwatch::detail {

/// Encodes `rgb` (height rows of width × 3 bytes) as a PNG file. Throws std::invalid_argument
/// when the buffer does not match the size, std::runtime_error when compression fails.
std::string encode_png_rgb(int width, int height, const std::vector<uint8_t>& rgb);

}  // namespace layerwatch::detail
