#include "png.h"

#include <fmt/format.h>
#include <zlib.h>

#include <stdexcept>

namespace layerwatch::detail {
namespace {

void append_be32(std::string* out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out->push_back(static_cast<char>((v >> shift) & 0xFF));
}

void append_chunk(std::string* out, const char* type, const std::string& data) {
  append_be32(out, static_cast<uint32_t>(data.size()));
  const std::string body = std::string(type, 4) + data;
  *out += body;
  append_be32(out, static_cast<uint32_t>(
                       ::crc32(0, reinterpret_cast<const Bytef*>(body.data()), body.size())));
}

}  // namespace

std::string encode_png_rgb(int width, int height, const std::vector<uint8_t>& rgb) {
  if (width <= 0 || height <= 0 ||
      rgb.size() != static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * 3) {
    throw std::invalid_argument(
        fmt::format("PNG buffer of {} bytes does not match {}×{} RGB", rgb.size(), width, height));
  }
  std::string raw;  // each scanline starts with its filter type, 0 (none)
  raw.reserve(static_cast<std::size_t>(height) * (1 + 3 * static_cast<std::size_t>(width)));
  for (int y = 0; y < height; ++y) {
    raw.push_back('\0');
    raw.append(reinterpret_cast<const char*>(rgb.data()) + static_cast<std::size_t>(y) * width * 3,
               static_cast<std::size_t>(width) * 3);
  }
  uLongf compressed_size = compressBound(raw.size());
  std::string compressed(compressed_size, '\0');
  if (compress2(reinterpret_cast<Bytef*>(compressed.data()), &compressed_size,
                reinterpret_cast<const Bytef*>(raw.data()), raw.size(), 6) != Z_OK) {
    throw std::runtime_error("PNG compression failed");
  }
  compressed.resize(compressed_size);

  std::string header;
  append_be32(&header, static_cast<uint32_t>(width));
  append_be32(&header, static_cast<uint32_t>(height));
  header += std::string("\x08\x02\x00\x00\x00", 5);  // 8-bit, RGB, deflate, filter 0, no interlace
  std::string png = "\x89PNG\r\n\x1a\n";
  append_chunk(&png, "IHDR", header);
  append_chunk(&png, "IDAT", compressed);
  append_chunk(&png, "IEND", "");
  return png;
}

}  // namespace layerwatch::detail
