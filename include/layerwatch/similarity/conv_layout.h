#pragma once
/// @file
/// Turning conv activations (N, C, H, W), row-major as torch stores them, into the
/// (samples × features) matrices the indices take.
///
/// - `kSpatial` (N·H·W, C): every spatial position is a sample; the right layout to compare the
///   same layer at two times (Raghu et al.). Positions are subsampled deterministically to
///   `max_samples`, the same positions for the same shape and seed, so two snapshots stay
///   paired row by row.
/// - `kFlatten` (N, C·H·W): one sample per example; for comparing different layers.
/// - `kPool` (N, C·h·w): adaptive average pooling to `pool_size` × `pool_size` first (the same
///   bins as torch's adaptive_avg_pool2d), then flatten; makes layers of different resolution
///   comparable.

#include <Eigen/Core>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "layerwatch/core/options.h"

namespace layerwatch::similarity {

/// The conv layouts above.
enum class ConvLayout { kSpatial, kFlatten, kPool };

/// Options of `conv_to_matrix`.
struct ConvLayoutOptions {
  /// Layout. Default `kSpatial`.
  LAYERWATCH_ARG(ConvLayout, layout) = ConvLayout::kSpatial;
  /// `kSpatial`: cap on rows (N·H·W); 0 keeps all. Default 50000.
  LAYERWATCH_ARG(int64_t, max_samples) = 50000;
  /// `kSpatial`: seed of the position subsampling. Default 0.
  LAYERWATCH_ARG(uint64_t, seed) = 0;
  /// `kPool`: output side length. Default 1 (global average pooling), range ≥ 1.
  LAYERWATCH_ARG(int64_t, pool_size) = 1;
};

/// Converts a contiguous (N, C, H, W) array to a column-major matrix per `options`.
/// Throws `std::invalid_argument` for a bad shape or option (e.g. pool_size > H).
template <typename Scalar>
Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> conv_to_matrix(
    const Scalar* data, const std::array<int64_t, 4>& shape, const ConvLayoutOptions& options = {});

/// The row indices (into N·H·W, ascending) that `kSpatial` keeps for this shape and options.
std::vector<int64_t> spatial_sample_rows(int64_t total, int64_t max_samples, uint64_t seed);

/// Parses "spatial", "flatten" or "pool"; throws `std::invalid_argument` otherwise.
ConvLayout parse_conv_layout(const std::string& name);

}  // namespace layerwatch::similarity
