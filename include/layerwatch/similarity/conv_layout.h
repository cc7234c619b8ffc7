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

#include "layerwatch/core/option.h"

namespace layerwatch::similarity {

/// The conv layouts above.
enum class ConvLayout {
  kSpatial,  ///< "spatial"
  kFlatten,  ///< "flatten"
  kPool,     ///< "pool"
};
/// Stable name ("spatial", "flatten", "pool").
const char* to_string(ConvLayout layout) noexcept;
/// Every layout, in the order above.
const std::vector<ConvLayout>& all_conv_layouts();

/// Options of `conv_to_matrix`.
struct ConvLayoutOptions {
  LAYERWATCH_OPTIONS(ConvLayoutOptions);
  /// Layout. Default `kSpatial`.
  LAYERWATCH_OPTION(ConvLayout, layout, one_of(all_conv_layouts())) = ConvLayout::kSpatial;
  /// `kSpatial`: cap on rows (N·H·W); 0 keeps all. Default 50000, range ≥ 0.
  LAYERWATCH_OPTION(int64_t, max_samples, at_least(0)) = 50000;
  /// `kSpatial`: seed of the position subsampling. Default 0.
  LAYERWATCH_OPTION(uint64_t, seed, AnyValue{}) = 0;
  /// `kPool`: output side length. Default 1 (global average pooling), range ≥ 1.
  LAYERWATCH_OPTION(int64_t, pool_size, at_least(1)) = 1;
  LAYERWATCH_OPTIONS_END();
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
