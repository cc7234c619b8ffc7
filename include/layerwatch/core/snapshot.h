#pragma once
/// @file
/// `Snapshot`: one layer's activations on the probe set at one moment of training, as a
/// (samples × features) matrix, stored in float32 or (to halve memory) float16.

#include <Eigen/Core>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace layerwatch {

/// Activations of one layer from one probe pass. Immutable once handed to the store.
struct Snapshot {
  std::string layer;        ///< Capture point name, e.g. "features.3".
  int64_t step = 0;         ///< Training steps completed when the probe pass ran.
  int64_t epoch = 0;        ///< Epochs completed when the probe pass ran.
  int64_t probe_index = 0;  ///< 0 for the first probe pass of the run, then 1, 2, …
  /// Rows per probe example before subsampling (H·W for spatial conv layouts, 1 for (N, F)).
  /// Two snapshots' rows correspond only when this (and the probe set) is the same.
  int64_t rows_per_example = 1;
  /// The global rows (into examples × rows_per_example, ascending) that `sample_cap` kept,
  /// one per row of the matrix; empty when every row was kept. Lets the probes tell which
  /// example each row belongs to. Not part of checkpoints.
  std::vector<int64_t> sampled_rows;

  Eigen::MatrixXf values;                                                  ///< float32 storage.
  Eigen::Matrix<Eigen::half, Eigen::Dynamic, Eigen::Dynamic> half_values;  ///< float16 storage.

  /// True when the data lives in `half_values`.
  bool is_half() const noexcept { return half_values.size() > 0; }
  int64_t samples() const noexcept { return is_half() ? half_values.rows() : values.rows(); }
  int64_t features() const noexcept { return is_half() ? half_values.cols() : values.cols(); }
  /// Bytes of the matrix storage (what the memory budget counts).
  std::size_t bytes() const noexcept {
    return is_half() ? static_cast<std::size_t>(half_values.size()) * sizeof(Eigen::half)
                     : static_cast<std::size_t>(values.size()) * sizeof(float);
  }
  /// The matrix as float32 (a copy when stored as float16).
  Eigen::MatrixXf to_float() const {
    return is_half() ? Eigen::MatrixXf(half_values.cast<float>()) : values;
  }
  /// Converts float32 storage to float16 in place.
  void convert_to_half() {
    if (is_half() || values.size() == 0) return;
    half_values = values.cast<Eigen::half>();
    values = Eigen::MatrixXf();
  }
};

}  // namespace layerwatch
