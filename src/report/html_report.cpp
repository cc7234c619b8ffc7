#include "layerwatch/report/html_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <stdexcept>

#include "html_page.h"
#include "svg_chart.h"

namespace layerwatch {
namespace {

namespace fs = std::filesystem;
using detail::xml_escape;

bool is_matrix(const ConvergenceRecord& r) { return !r.reference_layer.empty(); }

// Maps (step, epoch) to a fractional epoch: epoch e starts at the smallest step seen with
// epoch e, and a snapshot between two starts sits proportionally between them. A run that never
// ended an epoch (all records in epoch 0, probed every N steps) is drawn against the step.
class EpochAxis {
 public:
  explicit EpochAxis(const RunLog& log) {
    std::set<int64_t> steps;
    for (const auto& r : log.records) note(r.epoch, r.step), steps.insert(r.step);
    for (const auto& e : log.events) note(e.epoch, e.step), steps.insert(e.step);
    for (const auto& p : log.probes) note(p.epoch, p.step), steps.insert(p.step);
    by_step_ = start_.size() <= 1 && steps.size() > 1;
  }

  double operator()(int64_t step, int64_t epoch) const {
    if (by_step_) return static_cast<double>(step);
    const auto it = start_.find(epoch);
    if (it == start_.end()) return static_cast<double>(epoch);
    double length = 0;
    if (const auto next = start_.find(epoch + 1); next != start_.end()) {
      length = static_cast<double>(next->second - it->second);
    } else if (const auto prev = start_.find(epoch - 1); prev != start_.end()) {
      length = static_cast<double>(it->second - prev->second);
    }
    if (length <= 0) return static_cast<double>(epoch);
    return static_cast<double>(epoch) +
           std::min(0.999, static_cast<double>(step - it->second) / length);
  }

  /// The axis title: "epoch" or "step".
  const char* name() const { return by_step_ ? "step" : "epoch"; }
  /// A point on the axis, e.g. "epoch 2.5" or "step 300".
  std::string label(double x) const {
    return fmt::format("{} {:g}", name(), std::round(x * 100) / 100);
  }

 private:
  void note(int64_t epoch, int64_t step) {
    auto [it, inserted] = start_.emplace(epoch, step);
    if (!inserted) it->second = std::min(it->second, step);
  }
  std::map<int64_t, int64_t> start_;
  bool by_step_ = false;
};

template <typename T>
void add_unique(std::vector<T>* list, const T& value) {
  if (std::find(list->begin(), list->end(), value) == list->end()) list->push_back(value);
}

std::string summary_value(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) {
    std::string out;
    for (const auto& item : v) out += (out.empty() ? "" : ", ") + summary_value(item);
    return out;
  }
  if (v.is_object()) {
    std::string out;
    for (const auto& [key, item] : v.items()) {
      out += (out.empty() ? "" : ", ") + key + ": " + summary_value(item);
    }
    return out.empty() ? "–" : out;
  }
  return v.dump();
}

class ReportBuilder {
 public:
  ReportBuilder(const RunLog& log, const ReportOptions& options)
      : log_(log), options_(options), axis_(log) {
    for (const auto& r : log.records) {
      add_unique(&layers_, r.layer);
      add_unique(&metrics_, std::string(similarity::to_string(r.metric)));
      if (has_value(r.status) && std::isfinite(r.value)) {
        x_max_ = std::max(x_max_, axis_(r.step, r.epoch));
      }
    }
    for (const auto& e : log.events) x_max_ = std::max(x_max_, axis_(e.step, e.epoch));
  }

  std::string build() {
    std::string title = options_.title();
    if (title.empty()) {
      title = "layerwatch report: " + fs::path(log_.run_dir).lexically_normal().filename().string();
    }
    std::string body = header(title) + warnings() + summary();
    if (log_.records.empty()) {
      body +=
          "<p class=\"empty\">This run has no convergence records yet: nothing was probed, "
          "or the run stopped before its first probe pass. Records appear in "
          "convergence.jsonl once the monitor's analyzer has compared two snapshots.</p>\n";
    } else {
      body +=
          curves(Reference::kPrevious, "convergence", "Convergence against the previous snapshot",
                 "1 means the layer's representation on the probe set did not change since "
                 "the previous probe pass. Freeze policies act on this signal. Click a "
                 "legend entry to hide or show its layer.");
      body += curves(Reference::kFirst, "vs-first", "Similarity to the first snapshot",
                     "How far each layer has moved from where it started.");
      body += freeze_timeline();
      body += learning_dynamics();
      body += layer_matrix();
      body += linear_probes();
      body += class_logits();
      body += problems();
    }
    return detail::html_page(title, body);
  }

 private:
  std::string header(const std::string& title) const {
    return fmt::format(
        "<h1>{}</h1>\n<p class=\"meta\">Run directory <code>{}</code> · {} records, {} events, "
        "{} layers · generated {}</p>\n",
        xml_escape(title), xml_escape(log_.run_dir), log_.records.size(), log_.events.size(),
        layers_.size(), detail::generated_time());
  }

  std::string warnings() const {
    if (log_.warnings.empty()) return "";
    std::string out =
        "<div class=\"warnings\"><strong>Some of the log could not be read; the "
        "report shows the rest.</strong><ul>\n";
    for (const auto& w : log_.warnings) out += "<li>" + xml_escape(w) + "</li>\n";
    return out + "</ul></div>\n";
  }

  std::string summary() const {
    if (!log_.summary.is_object() || log_.summary.empty()) return "";
    std::string out = "<h2>Run summary</h2>\n<table class=\"summary\">\n";
    for (const auto& [key, value] : log_.summary.items()) {
      out += fmt::format("<tr><th>{}</th><td>{}</td></tr>\n", xml_escape(key),
                         xml_escape(summary_value(value)));
    }
    return out + "</table>\n";
  }

  std::string curves(Reference reference, const std::string& kind, const std::string& heading,
                     const std::string& caption) const {
    std::string out;
    for (const auto& metric : metrics_) {
      detail::LineChartSpec spec;
      spec.kind = kind;
      spec.x_label = axis_.name();
      spec.y_label = metric + " similarity";
      for (const auto& layer : layers_) {
        detail::Series series{layer, {}};
        for (const auto& r : log_.records) {
          if (r.layer != layer || r.reference != reference || is_matrix(r) ||
              similarity::to_string(r.metric) != metric || !has_value(r.status) ||
              !std::isfinite(r.value)) {
            continue;
          }
          series.points.emplace_back(axis_(r.step, r.epoch), r.value);
        }
        if (!series.points.empty()) spec.series.push_back(std::move(series));
      }
      if (spec.series.empty()) continue;
      if (metric != "procrustes") spec.y_max = 1.0;
      out += fmt::format("<h2>{} ({})</h2>\n<p class=\"caption\">{}</p>\n", xml_escape(heading),
                         xml_escape(metric), xml_escape(caption));
      out += detail::line_chart_svg(spec);
    }
    return out;
  }

  // The probe records of `kind` of each layer in the order the layers were watched (then any
  // layer only the probes saw).
  std::vector<std::string> probe_layers(ProbeRecord::Kind kind) const {
    std::vector<std::string> seen, out;
    for (const auto& p : log_.probes) {
      if (p.kind == kind) add_unique(&seen, p.layer);
    }
    for (const auto& layer : layers_) {
      if (std::find(seen.begin(), seen.end(), layer) != seen.end()) out.push_back(layer);
    }
    for (const auto& layer : seen) add_unique(&out, layer);
    return out;
  }

  std::string linear_probes() const {
    const auto layers = probe_layers(ProbeRecord::Kind::kLinearProbe);
    if (layers.empty()) return "";
    std::string out =
        "<h2>Linear probes</h2>\n<p class=\"caption\">Held-out accuracy of a linear classifier "
        "of the probe examples' classes on each layer's activations (L2-regularised softmax "
        "regression, probing.probe), and its selectivity: that accuracy minus the same probe's "
        "accuracy on a control task (clusters of the probe inputs with random labels), which "
        "only memorising the inputs can solve. High accuracy with low selectivity means the "
        "probe, not the layer, did the work.</p>\n";
    const auto chart = [&](const std::string& kind, const std::string& label,
                           double ProbeRecord::*field) {
      detail::LineChartSpec spec;
      spec.kind = kind;
      spec.x_label = axis_.name();
      spec.y_label = label;
      for (const auto& layer : layers) {
        detail::Series series{layer, {}};
        for (const auto& p : log_.probes) {
          if (p.kind != ProbeRecord::Kind::kLinearProbe || p.layer != layer ||
              !has_value(p.status) || !std::isfinite(p.*field)) {
            continue;
          }
          series.points.emplace_back(axis_(p.step, p.epoch), p.*field);
        }
        if (!series.points.empty()) spec.series.push_back(std::move(series));
      }
      if (spec.series.empty()) return std::string();
      spec.y_max = 1.0;
      return detail::line_chart_svg(spec);
    };
    out += chart("probe-accuracy", "probe accuracy", &ProbeRecord::accuracy);
    out += chart("probe-selectivity", "selectivity", &ProbeRecord::selectivity);
    return out;
  }

  std::string class_logits() const {
    const auto layers = probe_layers(ProbeRecord::Kind::kClassLogit);
    if (layers.empty()) return "";
    std::string out =
        "<h2>Class-logit CCA</h2>\n<p class=\"caption\">For each layer, the canonical "
        "correlation of its activations with each class's output logit on the probe set, over "
        "training (Raghu et al. 2017): a class turns bright in a layer once the layer "
        "represents what the network uses to score that class.</p>\n";
    for (const auto& layer : layers) {
      std::vector<int64_t> steps, classes;
      std::map<int64_t, double> step_x;
      std::map<std::pair<int64_t, int64_t>, double> values;
      for (const auto& p : log_.probes) {
        if (p.kind != ProbeRecord::Kind::kClassLogit || p.layer != layer) continue;
        add_unique(&steps, p.step);
        add_unique(&classes, p.class_index);
        step_x[p.step] = axis_(p.step, p.epoch);
        values[{p.class_index, p.step}] = has_value(p.status) ? p.value : std::nan("");
      }
      std::sort(steps.begin(), steps.end());
      std::sort(classes.begin(), classes.end());
      detail::HeatmapSpec spec;
      spec.kind = "class-logit";
      spec.x_label = "probe pass (training time)";
      spec.y_label = "class";
      spec.value_label = "CCA";
      for (const auto step : steps) spec.columns.push_back(axis_.label(step_x[step]));
      for (const auto c : classes) {
        spec.rows.push_back(fmt::format("class {}", c));
        std::vector<double> row;
        for (const auto step : steps) {
          const auto it = values.find({c, step});
          row.push_back(it == values.end() ? std::nan("") : it->second);
        }
        spec.values.push_back(std::move(row));
      }
      out += fmt::format("<h3>{}</h3>\n", xml_escape(layer)) + detail::heatmap_svg(spec);
    }
    return out;
  }

  std::string freeze_timeline() const {
    detail::TimelineSpec spec;
    spec.kind = "freeze-timeline";
    spec.x_label = axis_.name();
    spec.x_max = std::max(1.0, std::ceil(x_max_ - 1e-9));
    std::map<std::string, const MonitorEvent*> freezes;
    for (const auto& e : log_.events) {
      if (e.kind == MonitorEvent::Kind::kFreeze && !freezes.count(e.layer)) freezes[e.layer] = &e;
    }
    std::vector<std::string> rows = layers_;
    for (const auto& [layer, event] : freezes) add_unique(&rows, layer);
    for (const auto& layer : rows) {
      spec.rows.push_back(layer);
      const auto it = freezes.find(layer);
      if (it == freezes.end()) {
        spec.frozen_from.emplace_back();
        spec.notes.emplace_back("trainable to the end");
        continue;
      }
      const MonitorEvent& e = *it->second;
      const double x = axis_(e.step, e.epoch);
      spec.frozen_from.emplace_back(x);
      spec.notes.push_back(std::isfinite(e.value)
                               ? fmt::format("frozen at {} ({:.3f})", axis_.label(x), e.value)
                               : fmt::format("frozen at {}", axis_.label(x)));
    }
    std::string out =
        "<h2>Freeze timeline</h2>\n<p class=\"caption\">Grey: the layer trains. Blue: frozen "
        "(no backward pass, no optimizer updates) from that point on.</p>\n";
    if (freezes.empty()) {
      out +=
          "<p class=\"empty\">No layer was frozen in this run (freeze policy 'none', or no "
          "layer met the policy's condition).</p>\n";
    }
    return out + detail::timeline_svg(spec);
  }

  std::string learning_dynamics() const {
    std::string out;
    for (const auto& metric : metrics_) {
      std::vector<int64_t> steps;
      std::map<std::pair<std::string, int64_t>, double> values;
      std::map<int64_t, double> step_x;
      for (const auto& r : log_.records) {
        if (r.reference != Reference::kFinal || is_matrix(r) ||
            similarity::to_string(r.metric) != metric) {
          continue;
        }
        add_unique(&steps, r.step);
        step_x[r.step] = axis_(r.step, r.epoch);
        values[{r.layer, r.step}] = has_value(r.status) ? r.value : std::nan("");
      }
      if (steps.empty()) continue;
      std::sort(steps.begin(), steps.end());
      detail::HeatmapSpec spec;
      spec.kind = "learning-dynamics";
      spec.x_label = "snapshot (training time)";
      spec.y_label = "layer";
      spec.value_label = metric + " to final";
      spec.distance = similarity::is_distance(similarity::parse_metric(metric));
      for (const auto step : steps) spec.columns.push_back(axis_.label(step_x[step]));
      for (const auto& layer : layers_) {
        std::vector<double> row;
        bool any = false;
        for (const auto step : steps) {
          const auto it = values.find({layer, step});
          any = any || it != values.end();
          row.push_back(it == values.end() ? std::nan("") : it->second);
        }
        if (!any) continue;
        spec.rows.push_back(layer);
        spec.values.push_back(std::move(row));
      }
      out += fmt::format(
          "<h2>Learning dynamics ({})</h2>\n<p class=\"caption\">Each layer's snapshots against "
          "its own final snapshot: a row turns bright when the layer has reached its final "
          "representation. Lower layers usually converge first.</p>\n",
          xml_escape(metric));
      out += detail::heatmap_svg(spec);
    }
    if (out.empty()) {
      out =
          "<h2>Learning dynamics</h2>\n<p class=\"empty\">No records against the final "
          "snapshot: they are written when the run calls Monitor::finish().</p>\n";
    }
    return out;
  }

  std::string layer_matrix() const {
    std::string out;
    for (const auto& metric : metrics_) {
      std::map<std::pair<std::string, std::string>, std::pair<int64_t, double>> cells;
      std::vector<std::string> order;
      for (const auto& r : log_.records) {
        if (!is_matrix(r) || similarity::to_string(r.metric) != metric) continue;
        auto& cell = cells[{r.layer, r.reference_layer}];
        if (r.step >= cell.first) cell = {r.step, has_value(r.status) ? r.value : std::nan("")};
        add_unique(&order, r.layer);
        add_unique(&order, r.reference_layer);
      }
      if (cells.empty()) continue;
      std::vector<std::string> rows;
      for (const auto& layer : layers_) {
        if (std::find(order.begin(), order.end(), layer) != order.end()) rows.push_back(layer);
      }
      detail::HeatmapSpec spec;
      spec.kind = "layer-matrix";
      spec.x_label = "reference layer (final snapshot)";
      spec.y_label = "layer (last snapshot)";
      spec.value_label = metric;
      spec.distance = similarity::is_distance(similarity::parse_metric(metric));
      spec.rows = rows;
      spec.columns = rows;
      for (const auto& a : rows) {
        std::vector<double> row;
        for (const auto& b : rows) {
          const auto it = cells.find({a, b});
          row.push_back(it == cells.end() ? std::nan("") : it->second.second);
        }
        spec.values.push_back(std::move(row));
      }
      out += fmt::format(
          "<h2>Layers × layers ({})</h2>\n<p class=\"caption\">Every layer's last snapshot "
          "against every layer's final snapshot: neighbouring layers with similar "
          "representations form bright blocks.</p>\n",
          xml_escape(metric));
      out += detail::heatmap_svg(spec);
    }
    return out;
  }

  std::string problems() const {
    struct Group {
      int64_t count = 0;
      std::string first_message;
    };
    std::map<std::pair<std::string, std::string>, Group> groups;
    for (const auto& r : log_.records) {
      if (r.status == Status::kOk) continue;
      auto& g = groups[{r.layer, to_string(r.status)}];
      if (g.count++ == 0) g.first_message = r.message;
    }
    for (const auto& e : log_.events) {
      using Kind = MonitorEvent::Kind;
      if (e.kind != Kind::kCaptureError && e.kind != Kind::kSinkError &&
          e.kind != Kind::kJobsSkipped && e.kind != Kind::kSnapshotRefused) {
        continue;
      }
      auto& g = groups[{e.layer.empty() ? "–" : e.layer, to_string(e.kind)}];
      if (g.count++ == 0) g.first_message = e.message;
    }
    if (groups.empty()) return "";
    std::string out =
        "<h2>Problems and cautions</h2>\n<table class=\"problems\"><tr><th>layer</th>"
        "<th>status</th><th>count</th><th>first message</th></tr>\n";
    for (const auto& [key, g] : groups) {
      out += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                         xml_escape(key.first), xml_escape(key.second), g.count,
                         xml_escape(g.first_message));
    }
    return out + "</table>\n";
  }

  const RunLog& log_;
  const ReportOptions& options_;
  EpochAxis axis_;
  std::vector<std::string> layers_;
  std::vector<std::string> metrics_;
  double x_max_ = 0;
};

}  // namespace

std::string render_report_html(const RunLog& log, const ReportOptions& options) {
  return ReportBuilder(log, options).build();
}

ReportResult write_report(const std::string& run_dir, const std::string& output_path,
                          const ReportOptions& options) {
  RunLog log = read_run_log(run_dir);
  ReportResult result;
  result.path = output_path.empty() ? (fs::path(run_dir) / "report.html").string() : output_path;
  result.records = log.records.size();
  result.events = log.events.size();
  result.warnings = log.warnings;
  if (log.records.empty()) {
    result.warnings.push_back(fmt::format("{} holds no convergence records", run_dir));
  }
  const std::string html = render_report_html(log, options);
  const fs::path target(result.path);
  std::error_code ec;
  if (target.has_parent_path()) fs::create_directories(target.parent_path(), ec);
  const std::string temporary = result.path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << html;
    out.close();
    if (!out) {
      fs::remove(temporary, ec);
      throw std::runtime_error(fmt::format(
          "cannot write the report to '{}'; choose a writable output path", result.path));
    }
  }
  fs::rename(temporary, target, ec);
  if (ec) {
    const std::string why = ec.message();
    fs::remove(temporary, ec);
    throw std::runtime_error(fmt::format("cannot write the report to '{}': {}", result.path, why));
  }
  return result;
}

}  // namespace layerwatch
