#include "layerwatch/report/layer_heatmap.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "html_page.h"
#include "layerwatch/io/activation_file.h"
#include "layerwatch/similarity/activations.h"
#include "svg_chart.h"

namespace layerwatch {
namespace {

namespace fs = std::filesystem;
using detail::xml_escape;

// "features.10" after "features.2": runs of digits compare as numbers, the rest as text.
bool natural_less(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(static_cast<unsigned char>(a[i])) &&
        std::isdigit(static_cast<unsigned char>(b[j]))) {
      size_t i_end = i, j_end = j;
      while (i_end < a.size() && std::isdigit(static_cast<unsigned char>(a[i_end]))) ++i_end;
      while (j_end < b.size() && std::isdigit(static_cast<unsigned char>(b[j_end]))) ++j_end;
      // Compare without leading zeros: the longer number is larger, else digit by digit.
      const auto strip = [](const std::string& s, size_t from, size_t to) {
        while (from + 1 < to && s[from] == '0') ++from;
        return s.substr(from, to - from);
      };
      const std::string x = strip(a, i, i_end), y = strip(b, j, j_end);
      if (x.size() != y.size()) return x.size() < y.size();
      if (x != y) return x < y;
      i = i_end;
      j = j_end;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

void check_samples(const HeatmapLayer& layer, const HeatmapLayer& first) {
  if (layer.activations.samples() == first.activations.samples()) return;
  throw std::runtime_error(fmt::format(
      "{} holds {} examples but {} holds {}: every layer file must hold the activations of "
      "the same examples, one per row (4-D files: one per sample along the first axis)",
      layer.source, layer.activations.samples(), first.source, first.activations.samples()));
}

void refuse_spatial(const LayerHeatmapOptions& options) {
  validate_options(options);
  if (options.conv().layout() == similarity::ConvLayout::kSpatial) {
    throw std::invalid_argument(
        "the spatial layout gives one row per position, and layers of different sizes have "
        "different positions: use pool or flatten for a layer × layer heatmap");
  }
}

}  // namespace

std::vector<LayerFile> list_layer_files(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw std::runtime_error(
        fmt::format("'{}' is not a directory; give a directory with one .npy or .pt file per "
                    "layer",
                    dir));
  }
  std::vector<LayerFile> files;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const auto& path = entry.path();
    if (!entry.is_regular_file(ec) || (path.extension() != ".npy" && path.extension() != ".pt")) {
      continue;
    }
    files.push_back({path.stem().string(), path.string()});
  }
  if (ec) throw std::runtime_error(fmt::format("cannot list '{}': {}", dir, ec.message()));
  if (files.empty()) {
    throw std::runtime_error(fmt::format(
        "'{}' holds no .npy or .pt files; it needs one file of activations per layer, named by "
        "the layer",
        dir));
  }
  std::sort(files.begin(), files.end(),
            [](const LayerFile& a, const LayerFile& b) { return natural_less(a.name, b.name); });
  return files;
}

std::vector<HeatmapLayer> read_heatmap_layers(const std::string& dir,
                                              const LayerHeatmapOptions& options) {
  refuse_spatial(options);
  std::vector<HeatmapLayer> out;
  for (const auto& file : list_layer_files(dir)) {
    similarity::Activations a(io::read_sample_matrix(file.path, options.conv()),
                              options.precision());
    if (a.status() == Status::kNonFinite || a.status() == Status::kEmptyInput) {
      throw std::runtime_error(fmt::format("{}: {}", file.path, a.message()));
    }
    out.push_back({file.name, file.path, std::move(a)});
    check_samples(out.back(), out.front());
  }
  return out;
}

LayerHeatmap compute_layer_heatmap(const std::string& dir_a, const std::string& dir_b,
                                   const LayerHeatmapOptions& options,
                                   const HeatmapProgress& progress) {
  const std::string b_dir = dir_b.empty() ? dir_a : dir_b;
  const auto a = read_heatmap_layers(dir_a, options);
  LayerHeatmap out = compute_layer_heatmap(
      a, b_dir == dir_a ? a : read_heatmap_layers(b_dir, options), options, progress);
  out.dir_a = dir_a;
  out.dir_b = b_dir;
  return out;
}

LayerHeatmap compute_layer_heatmap(const std::vector<HeatmapLayer>& a,
                                   const std::vector<HeatmapLayer>& b,
                                   const LayerHeatmapOptions& options,
                                   const HeatmapProgress& progress) {
  validate_options(options);
  LayerHeatmap out;
  out.metric = options.metric();
  if (a.empty() || b.empty()) return out;
  for (const auto& layer : b) check_samples(layer, a.front());
  for (const auto& layer : a) check_samples(layer, a.front());
  out.samples = a.front().activations.samples();
  for (const auto& layer : a) out.rows.push_back(layer.name);
  for (const auto& layer : b) out.columns.push_back(layer.name);
  const int64_t total = static_cast<int64_t>(a.size() * b.size());
  int64_t done = 0;
  for (const auto& x : a) {
    std::vector<double> row;
    for (const auto& y : b) {
      similarity::ActivationPair pair(x.activations, y.activations);
      const auto r = similarity::compute_metric(options.metric(), pair, options.metric_options());
      row.push_back(has_value(r.status()) ? r.value() : std::nan(""));
      if (!has_value(r.status())) {
        out.problems.push_back(fmt::format("{} × {}: {}", x.name, y.name, r.message()));
      }
      if (progress) progress(++done, total);
    }
    out.values.push_back(std::move(row));
  }
  return out;
}

int most_similar_column(const LayerHeatmap& heatmap, size_t row, bool skip_same_name) {
  const bool distance = similarity::is_distance(heatmap.metric);
  const auto& values = heatmap.values.at(row);
  int best = -1;
  for (size_t c = 0; c < heatmap.columns.size() && c < values.size(); ++c) {
    const double v = values[c];
    if (!std::isfinite(v) || (skip_same_name && heatmap.columns[c] == heatmap.rows[row])) continue;
    if (best < 0 || (distance ? v < values[best] : v > values[best])) best = static_cast<int>(c);
  }
  return best;
}

std::string render_layer_heatmap_html(const LayerHeatmap& heatmap, const std::string& title) {
  const std::string metric = similarity::to_string(heatmap.metric);
  const bool distance = similarity::is_distance(heatmap.metric);
  const bool across = heatmap.dir_a != heatmap.dir_b;
  const std::string page_title = title.empty() ? "layerwatch heatmap: " + metric : title;
  std::string body = fmt::format(
      "<h1>{}</h1>\n<p class=\"meta\">A <code>{}</code>{} · {} examples · {} × {} layers · "
      "generated {}</p>\n",
      xml_escape(page_title), xml_escape(heatmap.dir_a),
      across ? fmt::format(" · B <code>{}</code>", xml_escape(heatmap.dir_b)) : "", heatmap.samples,
      heatmap.rows.size(), heatmap.columns.size(), detail::generated_time());
  detail::HeatmapSpec spec;
  spec.kind = "layer-heatmap";
  spec.x_label = across ? "layer of B" : "layer";
  spec.y_label = across ? "layer of A" : "layer";
  spec.value_label = metric;
  spec.rows = heatmap.rows;
  spec.columns = heatmap.columns;
  spec.values = heatmap.values;
  spec.distance = distance;
  body += fmt::format(
      "<h2>Layers × layers ({})</h2>\n<p class=\"caption\">{}; {} Hover a cell for its "
      "value.</p>\n",
      xml_escape(metric),
      across ? "Every layer of A against every layer of B on the same examples"
             : "Every layer against every other on the same examples",
      distance ? "darker is farther (a distance: 0 = identical, brightest)."
               : "brighter is more similar.");
  body += detail::heatmap_svg(spec);

  // The closest column of each row: the identification Kornblith et al. score.
  body += "<h2>Most similar layer</h2>\n<table class=\"closest\"><tr><th>layer" +
          std::string(across ? " of A" : "") + "</th><th>most similar" +
          std::string(across ? " in B" : " other layer") + "</th><th>" + xml_escape(metric) +
          "</th></tr>\n";
  for (size_t r = 0; r < heatmap.rows.size(); ++r) {
    const int best = most_similar_column(heatmap, r, !across);
    body += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td></tr>\n", xml_escape(heatmap.rows[r]),
                        best < 0 ? "–" : xml_escape(heatmap.columns[best]),
                        best < 0 ? "–" : fmt::format("{:.4f}", heatmap.values[r][best]));
  }
  body += "</table>\n";
  if (!heatmap.problems.empty()) {
    body += "<h2>Cells without a value</h2>\n<ul>\n";
    for (const auto& p : heatmap.problems) body += "<li>" + xml_escape(p) + "</li>\n";
    body += "</ul>\n";
  }
  return detail::html_page(page_title, body);
}

std::string layer_heatmap_json(const LayerHeatmap& heatmap) {
  nlohmann::json values = nlohmann::json::array();
  for (const auto& row : heatmap.values) {
    nlohmann::json cells = nlohmann::json::array();
    for (const double v : row) cells.push_back(std::isfinite(v) ? nlohmann::json(v) : nullptr);
    values.push_back(std::move(cells));
  }
  const nlohmann::json out = {{"dir_a", heatmap.dir_a},
                              {"dir_b", heatmap.dir_b},
                              {"metric", similarity::to_string(heatmap.metric)},
                              {"samples", heatmap.samples},
                              {"rows", heatmap.rows},
                              {"columns", heatmap.columns},
                              {"values", values},
                              {"problems", heatmap.problems}};
  return out.dump();
}

}  // namespace layerwatch
