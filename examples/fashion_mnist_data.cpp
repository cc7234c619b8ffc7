#include "fashion_mnist_data.h"

#include <fmt/format.h>
#include <torch/torch.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

namespace fashion_mnist {
namespace {

std::vector<uint8_t> read_maybe_gz(const std::string& dir, const std::string& name) {
  namespace fs = std::filesystem;
  std::string path = (fs::path(dir) / (name + ".gz")).string();
  if (!fs::exists(path)) path = (fs::path(dir) / name).string();
  if (!fs::exists(path)) {
    throw std::runtime_error(fmt::format(
        "Fashion-MNIST file {}(.gz) not found in '{}': install Debian's dataset-fashion-mnist "
        "(apt-get install dataset-fashion-mnist) or pass --data DIR",
        name, dir));
  }
  gzFile file = gzopen(path.c_str(), "rb");  // reads uncompressed files as they are, too
  if (!file)
    throw std::runtime_error(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  std::vector<uint8_t> bytes;
  uint8_t buffer[1 << 16];
  int n = 0;
  while ((n = gzread(file, buffer, sizeof buffer)) > 0)
    bytes.insert(bytes.end(), buffer, buffer + n);
  int error = Z_OK;
  const char* message = gzerror(file, &error);
  const bool failed = n < 0 || (error != Z_OK && error != Z_STREAM_END);
  const std::string what = failed ? message : "";
  gzclose(file);
  if (failed) {
    throw std::runtime_error(
        fmt::format("{} is corrupt ({}): reinstall dataset-fashion-mnist", path, what));
  }
  return bytes;
}

uint32_t big_endian(const std::vector<uint8_t>& b, size_t at) {
  return (uint32_t{b[at]} << 24) | (uint32_t{b[at + 1]} << 16) | (uint32_t{b[at + 2]} << 8) |
         uint32_t{b[at + 3]};
}

}  // namespace

Split load(const std::string& dir, const std::string& split, int64_t first, int64_t count) {
  const std::string images_name = split + "-images-idx3-ubyte";
  const std::string labels_name = split + "-labels-idx1-ubyte";
  const auto images = read_maybe_gz(dir, images_name);
  const auto labels = read_maybe_gz(dir, labels_name);
  if (images.size() < 16 || big_endian(images, 0) != 2051) {
    throw std::runtime_error(
        fmt::format("{}/{} is not an IDX image file (bad header): reinstall dataset-fashion-mnist",
                    dir, images_name));
  }
  if (labels.size() < 8 || big_endian(labels, 0) != 2049) {
    throw std::runtime_error(
        fmt::format("{}/{} is not an IDX label file (bad header): reinstall dataset-fashion-mnist",
                    dir, labels_name));
  }
  const int64_t n = big_endian(images, 4), rows = big_endian(images, 8),
                cols = big_endian(images, 12);
  if (rows != 28 || cols != 28 || images.size() != 16 + static_cast<size_t>(n * rows * cols) ||
      big_endian(labels, 4) != n || labels.size() != 8 + static_cast<size_t>(n)) {
    throw std::runtime_error(fmt::format(
        "{}/{}: {} images of {}x{} do not match the file size or the {} labels (truncated?): "
        "reinstall dataset-fashion-mnist",
        dir, images_name, n, rows, cols, big_endian(labels, 4)));
  }
  if (count < 0) count = n - first;
  if (first < 0 || first + count > n) {
    throw std::runtime_error(fmt::format("{}/{} has {} images, not [{}, {})", dir, images_name, n,
                                         first, first + count));
  }
  Split out;
  out.images = torch::from_blob(const_cast<uint8_t*>(images.data() + 16 + first * rows * cols),
                                {count, 1, 28, 28}, torch::kUInt8)
                   .to(torch::kFloat)
                   .div_(255.0)
                   .sub_(0.2860)
                   .div_(0.3530);
  out.labels =
      torch::from_blob(const_cast<uint8_t*>(labels.data() + 8 + first), {count}, torch::kUInt8)
          .to(torch::kLong);
  return out;
}

}  // namespace fashion_mnist
