#pragma once
/// @file
/// `Array`: an n-dimensional float32/float64 array read from a file, in C (row-major) order,
/// and `FileError`, the exception every reader throws for an unreadable or invalid file.
/// (`DType` and `Matrix` are in core/matrix.h.)

#include <Eigen/Core>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "layerwatch/core/matrix.h"
#include "layerwatch/similarity/conv_layout.h"

namespace layerwatch::io {

/// A file that cannot be read or holds invalid data. `what()` is one line naming the file and
/// the problem, fit to print as it is.
class FileError : public std::runtime_error {
 public:
  FileError(const std::string& path, const std::string& problem)
      : std::runtime_error(path + ": " + problem), path_(path) {}
  const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
};

/// A dense array in C order, float32 or float64.
struct Array {
  std::vector<int64_t> shape;
  std::variant<std::vector<float>, std::vector<double>> values;

  DType dtype() const noexcept { return values.index() == 0 ? DType::kFloat32 : DType::kFloat64; }
  /// The values as `std::vector<Scalar>`; throws `std::bad_variant_access` for the other type.
  template <typename Scalar>
  const std::vector<Scalar>& as() const {
    return std::get<std::vector<Scalar>>(values);
  }
  int64_t size() const;              ///< Product of `shape`.
  std::string shape_string() const;  ///< "(2000, 48)".
};

/// "(2000, 48)", "(5,)": a shape as numpy prints it.
std::string shape_string(const std::vector<int64_t>& shape);

/// A (samples × features) matrix from a 2-D (samples, features) array, or a 4-D (N, C, H, W)
/// array laid out per `conv`, keeping its dtype. Throws `std::invalid_argument` for other
/// ranks.
Matrix to_sample_matrix(const Array& array, const similarity::ConvLayoutOptions& conv = {});

}  // namespace layerwatch::io
