#include "svg_chart.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "colormap.h"

namespace layerwatch::detail {
namespace {

// Layout of every chart, in SVG user units (the page scales the viewBox to its width).
constexpr double kWidth = 1000;
constexpr double kLeft = 70, kRight = 210, kTop = 20, kBottom = 50;
constexpr double kPlotWidth = kWidth - kLeft - kRight;
constexpr double kFont = 13;

// Ten distinguishable colours (the "Tableau 10" set); series past ten repeat them dashed.
constexpr std::array<const char*, 10> kPalette{"#4e79a7", "#f28e2b", "#e15759", "#76b7b2",
                                               "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
                                               "#9c755f", "#bab0ac"};

std::string shorten(const std::string& text, std::size_t max_chars) {
  return text.size() <= max_chars ? text : text.substr(0, max_chars - 1) + "…";
}

// Round tick steps (1, 2 or 5 × 10^k) giving about `target` ticks over [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!(hi > lo)) return {lo};
  const double raw = (hi - lo) / target;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (const double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * magnitude;
    if (step >= raw) break;
  }
  std::vector<double> ticks;
  for (double t = std::ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) {
    ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
  }
  return ticks;
}

std::string number_label(double v) { return fmt::format("{:g}", std::round(v * 1e6) / 1e6); }

std::string svg_open(const std::string& kind, double height, const std::string& extra = "") {
  return fmt::format(
      "<svg class=\"chart\" data-chart=\"{}\"{} viewBox=\"0 0 {} {}\" "
      "xmlns=\"http://www.w3.org/2000/svg\" font-family=\"sans-serif\" font-size=\"{}\" "
      "role=\"img\">\n",
      xml_escape(kind), extra, kWidth, height, kFont);
}

// Axis lines, ticks and labels for a plot area of the given height.
std::string axes(double plot_height, double x_lo, double x_hi, double y_lo, double y_hi,
                 const std::string& x_label, const std::string& y_label) {
  const auto sx = [&](double x) { return kLeft + (x - x_lo) / (x_hi - x_lo) * kPlotWidth; };
  const auto sy = [&](double y) { return kTop + (y_hi - y) / (y_hi - y_lo) * plot_height; };
  std::string out;
  for (const double t : nice_ticks(y_lo, y_hi, 5)) {
    out += fmt::format(
        "<line x1=\"{0}\" x2=\"{1}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" stroke=\"#e4e4e4\"/>"
        "<text x=\"{3}\" y=\"{4:.1f}\" text-anchor=\"end\">{5}</text>\n",
        kLeft, kLeft + kPlotWidth, sy(t), kLeft - 6, sy(t) + 4, number_label(t));
  }
  for (const double t : nice_ticks(x_lo, x_hi, 8)) {
    out += fmt::format(
        "<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1}\" y2=\"{2}\" stroke=\"#e4e4e4\"/>"
        "<text x=\"{0:.1f}\" y=\"{3}\" text-anchor=\"middle\">{4}</text>\n",
        sx(t), kTop, kTop + plot_height, kTop + plot_height + 16, number_label(t));
  }
  out += fmt::format(
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#888\"/>\n", kLeft,
      kTop, kPlotWidth, plot_height);
  out += fmt::format("<text class=\"x-label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                     kLeft + kPlotWidth / 2, kTop + plot_height + 38, xml_escape(x_label));
  out += fmt::format(
      "<text class=\"y-label\" transform=\"translate(18 {}) rotate(-90)\" "
      "text-anchor=\"middle\">{}</text>\n",
      kTop + plot_height / 2, xml_escape(y_label));
  return out;
}

}  // namespace

std::string xml_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string line_chart_svg(const LineChartSpec& spec) {
  constexpr double kPlotHeight = 300;
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo;
  double y_lo = x_lo, y_hi = -x_lo;
  for (const auto& s : spec.series) {
    for (const auto& [x, y] : s.points) {
      x_lo = std::min(x_lo, x), x_hi = std::max(x_hi, x);
      y_lo = std::min(y_lo, y), y_hi = std::max(y_hi, y);
    }
  }
  if (!std::isfinite(x_lo)) x_lo = 0, x_hi = 1, y_lo = 0, y_hi = 1;
  if (!(x_hi > x_lo)) x_lo -= 0.5, x_hi += 0.5;
  y_lo = spec.y_min.value_or(std::floor(y_lo * 10) / 10);
  y_hi = spec.y_max.value_or(std::ceil(y_hi * 10) / 10);
  if (!(y_hi > y_lo)) y_lo -= 0.1, y_hi += 0.1;
  const double legend_height = 24.0 + 18.0 * static_cast<double>(spec.series.size());
  const double height = std::max(kTop + kPlotHeight + kBottom, legend_height);
  const auto sx = [&](double x) { return kLeft + (x - x_lo) / (x_hi - x_lo) * kPlotWidth; };
  const auto sy = [&](double y) { return kTop + (y_hi - y) / (y_hi - y_lo) * kPlotHeight; };

  std::string out =
      svg_open(spec.kind, height, fmt::format(" data-series=\"{}\"", spec.series.size()));
  out += axes(kPlotHeight, x_lo, x_hi, y_lo, y_hi, spec.x_label, spec.y_label);
  for (std::size_t i = 0; i < spec.series.size(); ++i) {
    const auto& s = spec.series[i];
    const char* colour = kPalette[i % kPalette.size()];
    const std::string dash = i >= kPalette.size() ? " stroke-dasharray=\"6 3\"" : "";
    std::string points;
    for (const auto& [x, y] : s.points) points += fmt::format("{:.1f},{:.1f} ", sx(x), sy(y));
    out += fmt::format("<g class=\"series\" data-series-index=\"{}\"><title>{}</title>", i,
                       xml_escape(s.name));
    out += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{} points=\"{}\"/>",
                       colour, dash, points);
    for (const auto& [x, y] : s.points) {
      out += fmt::format(
          "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"><title>{}: {:.4f} at {}</title>"
          "</circle>",
          sx(x), sy(y), colour, xml_escape(s.name), y, number_label(x));
    }
    out += "</g>\n";
    const double ly = kTop + 10 + 18.0 * static_cast<double>(i);
    out += fmt::format(
        "<g class=\"legend-entry\" data-toggle=\"{}\" style=\"cursor:pointer\">"
        "<line x1=\"{}\" x2=\"{}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"{}\" "
        "stroke-width=\"3\"{}/><text x=\"{}\" y=\"{:.1f}\">{}</text><title>{} (click to hide or "
        "show)</title></g>\n",
        i, kWidth - kRight + 15, kWidth - kRight + 40, ly, ly, colour, dash, kWidth - kRight + 46,
        ly + 4, xml_escape(shorten(s.name, 22)), xml_escape(s.name));
  }
  return out + "</svg>\n";
}

std::string heatmap_svg(const HeatmapSpec& spec) {
  const std::size_t n_rows = spec.rows.size(), n_cols = spec.columns.size();
  const double cell_h = n_rows > 24 ? 14 : 24;
  const double plot_height = cell_h * static_cast<double>(std::max<std::size_t>(n_rows, 1));
  const double left = 150;  // room for layer names
  const double plot_width = kWidth - left - kRight;
  const double cell_w = plot_width / static_cast<double>(std::max<std::size_t>(n_cols, 1));
  double lowest = 1, highest = 0;
  for (const auto& row : spec.values) {
    for (const double v : row) {
      if (std::isfinite(v)) {
        lowest = std::min(lowest, v);
        highest = std::max(highest, v);
      }
    }
  }
  // The colour bar runs from `dull` (darkest) to `bright`.
  const double dull = spec.distance ? std::max(0.1, std::ceil(highest * 10) / 10)
                                    : std::min(0.9, std::max(-1.0, std::floor(lowest * 10) / 10));
  const double bright = spec.distance ? 0.0 : 1.0;
  const auto scaled = [&](double v) { return (v - dull) / (bright - dull); };
  // Column labels along the bottom, thinned to about 12 so they never overlap.
  const double label_space = 100;
  const double height = kTop + plot_height + label_space;
  std::string out = svg_open(spec.kind, std::max(height, 260.0),
                             fmt::format(" data-rows=\"{}\" data-columns=\"{}\"", n_rows, n_cols));
  for (std::size_t r = 0; r < n_rows; ++r) {
    const double y = kTop + cell_h * static_cast<double>(r);
    out += fmt::format(
        "<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{}<title>{}</title></text>\n", left - 6,
        y + cell_h / 2 + 4, xml_escape(shorten(spec.rows[r], 20)), xml_escape(spec.rows[r]));
    for (std::size_t c = 0; c < n_cols; ++c) {
      const double v = r < spec.values.size() && c < spec.values[r].size()
                           ? spec.values[r][c]
                           : std::numeric_limits<double>::quiet_NaN();
      out += fmt::format(
          "<rect class=\"cell\" x=\"{:.2f}\" y=\"{:.1f}\" width=\"{:.2f}\" height=\"{}\" "
          "fill=\"{}\"><title>{} / {}: {}</title></rect>",
          left + cell_w * static_cast<double>(c), y, cell_w + 0.3, cell_h,
          to_hex(viridis(std::isfinite(v) ? scaled(v) : v)), xml_escape(spec.rows[r]),
          xml_escape(spec.columns[c]), std::isfinite(v) ? fmt::format("{:.4f}", v) : "no value");
    }
    out += "\n";
  }
  const std::size_t every = std::max<std::size_t>(1, (n_cols + 11) / 12);
  for (std::size_t c = 0; c < n_cols; c += every) {
    const double x = left + cell_w * (static_cast<double>(c) + 0.5);
    out += fmt::format(
        "<text x=\"{0:.1f}\" y=\"{1}\" text-anchor=\"end\" transform=\"rotate(-35 {0:.1f} "
        "{1})\">{2}</text>\n",
        x, kTop + plot_height + 14, xml_escape(shorten(spec.columns[c], 16)));
  }
  out += fmt::format("<text class=\"x-label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                     left + plot_width / 2, kTop + plot_height + label_space - 4,
                     xml_escape(spec.x_label));
  out += fmt::format(
      "<text class=\"y-label\" transform=\"translate(14 {}) rotate(-90)\" "
      "text-anchor=\"middle\">{}</text>\n",
      kTop + plot_height / 2, xml_escape(spec.y_label));
  // Colour bar: 10 steps from `bright` down to `dull`.
  const double bar_x = kWidth - kRight + 30, bar_h = 160;
  out += fmt::format("<text x=\"{}\" y=\"{}\">{}</text>\n", bar_x, kTop + 4,
                     xml_escape(spec.value_label));
  for (int i = 0; i < 10; ++i) {
    const double t = 1 - (i + 0.5) / 10;
    out += fmt::format("<rect x=\"{}\" y=\"{:.1f}\" width=\"18\" height=\"{:.1f}\" fill=\"{}\"/>",
                       bar_x, kTop + 14 + bar_h * i / 10, bar_h / 10 + 0.3, to_hex(viridis(t)));
  }
  out += fmt::format("\n<text x=\"{0}\" y=\"{1}\">{2}</text><text x=\"{0}\" y=\"{3}\">{4}</text>\n",
                     bar_x + 24, kTop + 24, number_label(bright), kTop + 14 + bar_h,
                     number_label(dull));
  return out + "</svg>\n";
}

std::string timeline_svg(const TimelineSpec& spec) {
  const double row_h = 26, left = 150;
  const double plot_width = kWidth - left - kRight;
  const double plot_height =
      row_h * static_cast<double>(std::max<std::size_t>(spec.rows.size(), 1));
  const double x_max = spec.x_max > 0 ? spec.x_max : 1;
  const auto sx = [&](double x) { return left + std::clamp(x / x_max, 0.0, 1.0) * plot_width; };
  std::string out = svg_open(spec.kind, kTop + plot_height + kBottom,
                             fmt::format(" data-rows=\"{}\"", spec.rows.size()));
  for (const double t : nice_ticks(0, x_max, 8)) {
    out += fmt::format(
        "<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1}\" y2=\"{2}\" stroke=\"#e4e4e4\"/>"
        "<text x=\"{0:.1f}\" y=\"{3}\" text-anchor=\"middle\">{4}</text>\n",
        sx(t), kTop, kTop + plot_height, kTop + plot_height + 16, number_label(t));
  }
  for (std::size_t r = 0; r < spec.rows.size(); ++r) {
    const double y = kTop + row_h * (static_cast<double>(r) + 0.5);
    out += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{}<title>{}</title></text>",
                       left - 6, y + 4, xml_escape(shorten(spec.rows[r], 20)),
                       xml_escape(spec.rows[r]));
    out += fmt::format(
        "<line x1=\"{}\" x2=\"{}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#bbb\" "
        "stroke-width=\"2\"/>",
        left, left + plot_width, y, y);
    const auto& from = spec.frozen_from[r];
    if (from) {
      out += fmt::format(
          "<rect class=\"frozen\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{}\" "
          "fill=\"#4e79a7\"><title>{}</title></rect>",
          sx(*from), y - 8, std::max(2.0, left + plot_width - sx(*from)), 16,
          xml_escape(spec.rows[r] + ": " + spec.notes[r]));
    }
    out += fmt::format("<text x=\"{}\" y=\"{:.1f}\" fill=\"#444\">{}</text>\n",
                       left + plot_width + 8, y + 4, xml_escape(shorten(spec.notes[r], 28)));
  }
  out += fmt::format("<text class=\"x-label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                     left + plot_width / 2, kTop + plot_height + 38, xml_escape(spec.x_label));
  return out + "</svg>\n";
}

}  // namespace layerwatch::detail
