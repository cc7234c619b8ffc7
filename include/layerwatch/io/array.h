#pragma once
/// @file
/// `Array`: an n-dimensional float32/float64 array read from a file, in C (row-major) order,
/// and `FileError`, the exception every reader throws for an unreadable or invalid file.

#include <Eigen/Core>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

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

/// Element type of an `Array`.
enum class DType { kFloat32, kFloat64 };

/// A dense array in C order. Exactly one of `f32`/`f64` holds the data, per `dtype`.
struct Array {
  std::vector<int64_t> shape;
  DType dtype = DType::kFloat32;
  std::vector<float> f32;
  std::vector<double> f64;

  int64_t size() const;              ///< Product of `shape`.
  std::string shape_string() const;  ///< "(2000, 48)".
};

/// A (samples × features) matrix from a 2-D or 4-D array, keeping its dtype: exactly one of
/// the two matrices is filled.
struct SampleMatrix {
  DType dtype = DType::kFloat32;
  Eigen::MatrixXf f32;
  Eigen::MatrixXd f64;
  Eigen::Index rows() const { return dtype == DType::kFloat32 ? f32.rows() : f64.rows(); }
  Eigen::Index cols() const { return dtype == DType::kFloat32 ? f32.cols() : f64.cols(); }
};

/// Converts a 2-D (samples, features) array, or a 4-D (N, C, H, W) array per `conv`, to a
/// column-major matrix. Throws `std::invalid_argument` for other ranks.
SampleMatrix to_sample_matrix(const Array& array, const similarity::ConvLayoutOptions& conv = {});

}  // namespace layerwatch::io
