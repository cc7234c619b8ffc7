#pragma once
// The three chart kinds of the HTML report, drawn as inline SVG from plain data (no torch, no
// JavaScript needed to see them): line charts, heatmaps and a timeline. Each returns one
// `<svg class="chart" data-chart="KIND" …>` element; every text is XML-escaped.

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace layerwatch::detail {

/// Escapes &, <, >, " and ' for XML text and attributes.
std::string xml_escape(const std::string& text);

/// One line of a line chart.
struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;  ///< (x, y), drawn in the given order.
};

struct LineChartSpec {
  std::string kind;  ///< data-chart attribute, e.g. "convergence".
  std::string x_label, y_label;
  std::vector<Series> series;
  std::optional<double> y_min, y_max;  ///< Fixed y range; otherwise from the data.
};

/// A line chart with axes, ticks, labels, one colour per series and a legend on the right
/// (legend entries toggle their series when the page's script runs).
std::string line_chart_svg(const LineChartSpec& spec);

struct HeatmapSpec {
  std::string kind;
  std::string x_label, y_label, value_label;
  std::vector<std::string> rows, columns;
  std::vector<std::vector<double>> values;  ///< rows × columns; NaN draws a grey cell.
  bool distance = false;  ///< Values are distances (0 = identical, drawn brightest).
};

/// A heatmap in the report's colour scale. For indices the colour bar's range is [lower, 1],
/// lower being the data's minimum rounded down to a tenth (so small differences stay visible);
/// for distances it is [0, upper], upper the maximum rounded up to a tenth, 0 brightest.
std::string heatmap_svg(const HeatmapSpec& spec);

struct TimelineSpec {
  std::string kind;
  std::string x_label;
  std::vector<std::string> rows;
  std::vector<std::optional<double>> frozen_from;  ///< Per row: x where it froze, if it did.
  std::vector<std::string> notes;                  ///< Per row: text beside the bar.
  double x_max = 1;
};

/// One row per layer: a thin grey line while trainable, a thick bar from its freeze on.
std::string timeline_svg(const TimelineSpec& spec);

}  // namespace layerwatch::detail
