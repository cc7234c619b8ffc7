#pragma once
/// @file
/// Layer × layer similarity heatmaps over saved activations, within one network or across two
/// (Kornblith et al. 2019's figures): every layer of network A against every layer of network B
/// on the same examples. A network is a directory with one `.npy` or `.pt` file per layer, named
/// by the layer (`features.0.npy`, …); layers are ordered by name with numbers compared as
/// numbers (`features.2` before `features.10`). Written by `layerwatch heatmap`.
///
/// @code
///   auto map = layerwatch::compute_layer_heatmap("runs/seed1/layers", "runs/seed2/layers",
///                                                layerwatch::LayerHeatmapOptions());
///   layerwatch::write_file_atomically("heatmap.html", layerwatch::render_layer_heatmap_html(map));
/// @endcode

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "layerwatch/core/option.h"
#include "layerwatch/core/status.h"
#include "layerwatch/similarity/activations.h"
#include "layerwatch/similarity/conv_layout.h"
#include "layerwatch/similarity/metric.h"

namespace layerwatch {

/// Options of `compute_layer_heatmap`.
struct LayerHeatmapOptions {
  LAYERWATCH_OPTIONS(LayerHeatmapOptions);
  /// The index drawn. Default linear CKA, the index Kornblith et al. found identifies
  /// corresponding layers across networks.
  LAYERWATCH_OPTION(similarity::Metric, metric, AnyValue{}) = similarity::Metric::kCka;
  /// Options of the index (SVCCA's reduction, RBF CKA's bandwidth).
  LAYERWATCH_OPTION(similarity::MetricOptions, metric_options, AnyValue{}) = {};
  /// How 4-D (N, C, H, W) activations become one row per example. Layers of different spatial
  /// sizes must keep one row per example, so the default is `pool` with a 2 × 2 output per
  /// channel (4·C features); `flatten` keeps everything (C·H·W features, often more than the
  /// examples, which leaves CCA-family indices without a value). `spatial` is refused.
  LAYERWATCH_OPTION(similarity::ConvLayoutOptions, conv, AnyValue{}) =
      similarity::ConvLayoutOptions().layout(similarity::ConvLayout::kPool).pool_size(2);
  /// Products in float64 (default) or float32.
  LAYERWATCH_OPTION(similarity::Precision, precision, AnyValue{}) = similarity::Precision::kFloat64;
  LAYERWATCH_OPTIONS_END();
};

/// One layer's activation file.
struct LayerFile {
  std::string name;  ///< The layer: the file name without `.npy` / `.pt`.
  std::string path;
};

/// The `.npy` and `.pt` files of `dir`, one per layer, in natural name order. Throws
/// `std::runtime_error` naming the directory when it is missing or holds no such file.
std::vector<LayerFile> list_layer_files(const std::string& dir);

/// The computed matrix.
struct LayerHeatmap {
  std::string dir_a, dir_b;  ///< dir_b equals dir_a within one network.
  similarity::Metric metric = similarity::Metric::kCka;
  int64_t samples = 0;                      ///< Examples (rows) of every layer.
  std::vector<std::string> rows, columns;   ///< A's layers, B's layers.
  std::vector<std::vector<double>> values;  ///< rows × columns; NaN where no value.
  std::vector<std::string> problems;        ///< "A × B: message" for cells without a value.
};

/// Called after each computed cell with (cells done, cells in all); may be empty.
using HeatmapProgress = std::function<void(int64_t done, int64_t total)>;

/// Every layer of `dir_a` against every layer of `dir_b` (empty: `dir_a` against itself). Each
/// layer is read and prepared once. Throws `io::FileError` for a file that cannot be read,
/// `std::runtime_error` naming both files when layers hold different numbers of examples or a
/// layer holds NaN/Inf, and `std::invalid_argument` for the `spatial` layout.
LayerHeatmap compute_layer_heatmap(const std::string& dir_a, const std::string& dir_b,
                                   const LayerHeatmapOptions& options = {},
                                   const HeatmapProgress& progress = {});

/// One layer of a network, prepared for the indices.
struct HeatmapLayer {
  std::string name;                     ///< The layer.
  std::string source;                   ///< Where it came from (its file), named in messages.
  similarity::Activations activations;  ///< Its activations, one row per example.
};

/// Reads and prepares the layer files of `dir` (`list_layer_files`) with `options`' layout and
/// precision. Throws like `compute_layer_heatmap`.
std::vector<HeatmapLayer> read_heatmap_layers(const std::string& dir,
                                              const LayerHeatmapOptions& options = {});

/// Every layer of `a` against every layer of `b`, prepared once (by `read_heatmap_layers`, or
/// from matrices in memory): the way to score many pairs of networks without reading and
/// preparing each layer again for every pair. `dir_a` and `dir_b` of the result are left empty.
/// Throws `std::runtime_error` naming both layers when they hold different numbers of examples.
/// Only `options.metric()` and `options.metric_options()` apply here.
LayerHeatmap compute_layer_heatmap(const std::vector<HeatmapLayer>& a,
                                   const std::vector<HeatmapLayer>& b,
                                   const LayerHeatmapOptions& options = {},
                                   const HeatmapProgress& progress = {});

/// The column most similar to row `row` (highest index, or lowest distance), skipping cells
/// without a value and, with `skip_same_name`, the column named like the row (within one
/// network); -1 when there is none.
int most_similar_column(const LayerHeatmap& heatmap, size_t row, bool skip_same_name = false);

/// A self-contained HTML page (the run report's style) with the heatmap, the table of values,
/// and for each row the most similar column. `title` empty: "layerwatch heatmap: <metric>".
std::string render_layer_heatmap_html(const LayerHeatmap& heatmap, const std::string& title = "");

/// The matrix as JSON text: dirs, metric, samples, rows, columns, values (null where NaN),
/// problems.
std::string layer_heatmap_json(const LayerHeatmap& heatmap);

}  // namespace layerwatch
