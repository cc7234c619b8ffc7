// `layerwatch compare A B`: similarity indices between two saved activation files.

#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <vector>

#include "commands.h"
#include "index_flags.h"
#include "layerwatch/io/activation_file.h"
#include "layerwatch/similarity/metric.h"
#include "layerwatch/similarity/resampling.h"
#include "layerwatch/similarity/similarity.h"
#include "progress_lines.h"

namespace layerwatch::cli {
namespace {

using nlohmann::json;
namespace sim = layerwatch::similarity;

struct CompareArgs {
  std::string file_a, file_b;
  std::vector<std::string> metrics{"svcca"};
  std::shared_ptr<IndexFlags> index = std::make_shared<IndexFlags>();
  sim::ResamplingOptions resampling;
  bool as_json = false;

  bool resampled() const { return resampling.bootstrap() > 0 || resampling.permutations() > 0; }
};

// One computed metric: JSON fields plus a short text for the table.
struct MetricRow {
  std::string name;
  json fields;
  std::string details;
};

json number_or_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

json vector_json(const Eigen::VectorXd& v) {
  json a = json::array();
  for (Eigen::Index i = 0; i < v.size(); ++i) a.push_back(number_or_null(v(i)));
  return a;
}

// The fields and details of one metric's result, by the type of its index's result.
MetricRow describe(const sim::MetricResult& m, const sim::MetricOptions& options) {
  const auto& base = m.base();
  MetricRow row{sim::to_string(m.metric), json::object(), ""};
  row.fields["value"] = number_or_null(base.value);
  row.fields["status"] = to_string(base.status);
  if (!base.message.empty()) row.fields["message"] = base.message;
  if (!base.dropped_x.empty() || !base.dropped_y.empty()) {
    row.fields["dropped_constant"] = {base.dropped_x, base.dropped_y};
  }
  const bool ok = has_value(base.status);
  std::visit(
      [&](const auto& r) {
        using R = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<R, sim::CcaResult>) {
          row.fields["r2_cca"] = number_or_null(r.r2);
          row.fields["kept_dims"] = {r.kept_x, r.kept_y};
          row.fields["rho"] = vector_json(r.rho);
          if (ok)
            row.details = fmt::format("R²_CCA {:.6f}, dims {} / {}", r.r2, r.kept_x, r.kept_y);
        } else if constexpr (std::is_same_v<R, sim::PwccaResult>) {
          row.fields["rho"] = vector_json(r.rho);
          row.fields["weights"] = vector_json(r.weights);
          row.fields["weighted_by"] = r.weighted_by_x ? "A" : "B";
          if (ok) row.details = fmt::format("weights from {}", r.weighted_by_x ? "A" : "B");
        } else if constexpr (std::is_same_v<R, sim::ProcrustesResult>) {
          row.fields["angular"] = number_or_null(r.angular);
          if (ok) row.details = fmt::format("distance; angular {:.6f} rad", r.angular);
        } else if (m.metric == sim::Metric::kCkaRbf) {
          row.fields["threshold"] = options.rbf().threshold();
          row.details = fmt::format("threshold {}", options.rbf().threshold());
        }
      },
      m.result);
  return row;
}

// `describe` plus the bootstrap interval and permutation p-value, when asked for.
MetricRow describe(const sim::ResampledMetric& r, const CompareArgs& args) {
  MetricRow row = describe(r.observed, args.index->metric_options);
  const auto& resampling = args.resampling;
  if (resampling.bootstrap() > 0) {
    row.fields["bootstrap"] = {{"confidence", resampling.confidence()},
                               {"low", number_or_null(r.low)},
                               {"high", number_or_null(r.high)},
                               {"standard_error", number_or_null(r.standard_error)},
                               {"resamples", r.bootstrap_used}};
  }
  if (resampling.permutations() > 0) {
    row.fields["permutation"] = {{"p_value", number_or_null(r.p_value)},
                                 {"permutations", r.permutations_used}};
  }
  if (resampling.bootstrap() > 0 || resampling.permutations() > 0) {
    row.fields["seed"] = resampling.seed();
  }
  if (!r.message.empty()) {
    const std::string before = row.fields.value("message", "");
    row.fields["message"] = before.empty() ? r.message : before + "; " + r.message;
  }
  return row;
}

int run_compare(CompareArgs args) {
  std::vector<sim::Metric> metrics;
  for (const auto& name : args.metrics) {
    if (name == "all") {
      metrics = sim::all_metrics();
      break;
    }
    metrics.push_back(sim::parse_metric(name));
  }
  const auto precision = args.index->resolve();
  const auto& metric_options = args.index->metric_options;

  std::string shape_a, shape_b;
  Matrix ma, mb;
  int64_t rows_per_example = 1;
  try {
    const auto read = [&](const std::string& path, std::string& shape_text) {
      std::vector<int64_t> shape;
      Matrix m = io::read_sample_matrix(path, args.index->conv_options, &shape);
      shape_text = io::shape_string(shape);
      if (shape.size() == 4 && args.index->conv_options.layout() == sim::ConvLayout::kSpatial) {
        rows_per_example = shape[2] * shape[3];
        if (args.resampled() && m.rows() != shape[0] * rows_per_example) {
          throw std::invalid_argument(fmt::format(
              "{}: resampling resamples whole examples, and the spatial layout kept only some "
              "positions of each; add --conv-max-samples 0 (every position) or use --conv pool "
              "or --conv flatten",
              path));
        }
      }
      return m;
    };
    ma = read(args.file_a, shape_a);
    mb = read(args.file_b, shape_b);
  } catch (const io::FileError& e) {
    fmt::print(stderr, "layerwatch compare: {}\n", e.what());
    return kExitBadData;
  } catch (const std::invalid_argument& e) {
    fmt::print(stderr, "layerwatch compare: {}\n", e.what());
    return kExitUsage;
  }
  if (ma.rows() != mb.rows()) {
    fmt::print(stderr,
               "layerwatch compare: {} has {} samples (shape {}) but {} has {} (shape {}): both "
               "files must hold activations of the same examples, one row per example\n",
               args.file_a, ma.rows(), shape_a, args.file_b, mb.rows(), shape_b);
    return kExitBadData;
  }
  const DType dtype_a = ma.dtype(), dtype_b = mb.dtype();
  // Without resampling each matrix is freed once prepared: the prepared (centred) copy is all
  // the indices need. Resampling draws rows of the originals, so it keeps them.
  sim::Activations xa(ma, precision);
  if (!args.resampled()) ma = Matrix();
  sim::Activations xb(mb, precision);
  if (!args.resampled()) mb = Matrix();
  for (const auto& [path, side] : {std::pair{&args.file_a, &xa}, std::pair{&args.file_b, &xb}}) {
    if (side->status() == Status::kNonFinite || side->status() == Status::kEmptyInput) {
      fmt::print(stderr, "layerwatch compare: {}: {}\n", *path, side->message());
      return kExitBadData;
    }
  }
  std::vector<MetricRow> rows;
  if (args.resampled()) {
    for (const auto metric : metrics) {
      const auto r = sim::resample_metric(
          metric, ma, mb, metric_options,
          sim::ResamplingOptions(args.resampling).rows_per_example(rows_per_example), precision,
          progress_lines(fmt::format("layerwatch compare: {} resamples", sim::to_string(metric))));
      rows.push_back(describe(r, args));
    }
  } else {
    sim::ActivationPair pair(xa, xb);
    for (const auto metric : metrics) {
      rows.push_back(describe(sim::compute_metric(metric, pair, metric_options), metric_options));
    }
  }

  if (args.as_json) {
    json out;
    out["n_samples"] = xa.samples();
    out["features"] = {xa.features(), xb.features()};
    out["files"] = {args.file_a, args.file_b};
    out["precision"] = to_string(precision);
    out["metrics"] = json::object();
    for (const auto& row : rows) out["metrics"][row.name] = row.fields;
    fmt::print("{}\n", out.dump());
    return kExitOk;
  }
  fmt::print("A: {}  {}  {}\nB: {}  {}  {}\n{} samples, {} vs {} features\n\n", args.file_a,
             shape_a, to_string(dtype_a), args.file_b, shape_b, to_string(dtype_b), xa.samples(),
             xa.features(), xb.features());
  const auto number = [](const json& v, const char* format) {
    return v.is_null() ? std::string("-") : fmt::format(format, v.get<double>());
  };
  const bool interval = args.resampling.bootstrap() > 0;
  const bool test = args.resampling.permutations() > 0;
  std::string header = fmt::format("{:<14} {:>10}", "metric", "value");
  if (interval) {
    header +=
        fmt::format("  {:<21}", fmt::format("{:g}% interval", 100 * args.resampling.confidence()));
  }
  if (test) header += fmt::format("  {:>8}", "p");
  fmt::print("{}  {:<16} {}\n", header, "status", "details");
  for (const auto& row : rows) {
    std::string line =
        fmt::format("{:<14} {:>10}", row.name, number(row.fields["value"], "{:.6f}"));
    if (interval) {
      const auto& b = row.fields["bootstrap"];
      line += fmt::format("  {:<21}", b["low"].is_null()
                                          ? std::string("-")
                                          : fmt::format("[{:.6f}, {:.6f}]", b["low"].get<double>(),
                                                        b["high"].get<double>()));
    }
    if (test)
      line += fmt::format("  {:>8}", number(row.fields["permutation"]["p_value"], "{:.4g}"));
    fmt::print("{}  {:<16} {}\n", line, row.fields["status"].get<std::string>(), row.details);
    if (row.fields.contains("message")) {
      fmt::print("{:<14} {}\n", "", row.fields["message"].get<std::string>());
    }
  }
  return kExitOk;
}

}  // namespace

std::function<int()> add_compare_command(CLI::App& app) {
  auto args = std::make_shared<CompareArgs>();
  auto* cmd =
      app.add_subcommand("compare", "Similarity of two saved activation files (.npy or .pt)");
  cmd->add_option("A", args->file_a, "First activations: (samples, features) or (N, C, H, W)")
      ->required();
  cmd->add_option("B", args->file_b, "Second activations, same samples")->required();
  std::vector<std::string> allowed = names_of(sim::all_metrics());
  allowed.push_back("all");
  cmd->add_option("--metric", args->metrics, "Metric(s), comma-separated (default svcca)")
      ->delimiter(',')
      ->check(CLI::IsMember(allowed));
  add_index_flags(cmd, args->index,
                  "4-D inputs: spatial (N*H*W, C; default), flatten (N, C*H*W), pool");
  cmd->add_option_function<int64_t>(
         "--bootstrap", [args](int64_t n) { args->resampling.bootstrap(n); },
         "Bootstrap resamples of the examples for a confidence interval per metric (default 0: "
         "none; 1000 for a stable 95% interval)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option_function<int64_t>(
         "--permutations", [args](int64_t n) { args->resampling.permutations(n); },
         "Permutations of B's rows for a p-value per metric (default 0: none)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option_function<double>(
         "--confidence", [args](double c) { args->resampling.confidence(c); },
         "Central probability of the bootstrap interval (default 0.95)")
      ->check(CLI::Range(1e-6, 1 - 1e-6));
  cmd->add_option_function<uint64_t>(
      "--seed", [args](uint64_t seed) { args->resampling.seed(seed); },
      "Seed of the resampling (default 0); the same seed gives the same results");
  cmd->add_flag("--json", args->as_json, "Print one JSON object instead of a table");
  return [args] { return run_compare(*args); };
}

}  // namespace layerwatch::cli
