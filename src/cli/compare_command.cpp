// `layerwatch compare A B`: similarity indices between two saved activation files.

#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <vector>

#include "commands.h"
#include "layerwatch/io/activation_file.h"
#include "layerwatch/similarity/metric.h"
#include "layerwatch/similarity/similarity.h"

namespace layerwatch::cli {
namespace {

using nlohmann::json;
namespace sim = layerwatch::similarity;

template <typename E>
std::vector<std::string> names_of(const std::vector<E>& values) {
  std::vector<std::string> names;
  for (const auto v : values) names.emplace_back(to_string(v));
  return names;
}

template <typename E>
E by_name(const std::string& name, const std::vector<E>& values) {
  for (const auto v : values) {
    if (name == to_string(v)) return v;
  }
  throw std::invalid_argument("unknown name " + name);  // CLI11 checked the name already
}

const std::vector<sim::SvccaReduction> kReductions = {sim::SvccaReduction::kSingularValueMass,
                                                      sim::SvccaReduction::kExplainedVariance};
const std::vector<sim::Precision> kPrecisions = {sim::Precision::kFloat64,
                                                 sim::Precision::kFloat32};

struct CompareArgs {
  std::string file_a, file_b;
  std::vector<std::string> metrics{"svcca"};
  sim::MetricOptions metric_options;
  std::string svcca_reduction = "mass";
  std::string conv = "spatial";
  sim::ConvLayoutOptions conv_options;
  std::string precision = "float64";
  bool as_json = false;
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

int run_compare(CompareArgs args) {
  std::vector<sim::Metric> metrics;
  for (const auto& name : args.metrics) {
    if (name == "all") {
      metrics = sim::all_metrics();
      break;
    }
    metrics.push_back(sim::parse_metric(name));
  }
  args.metric_options.svcca().reduction(by_name(args.svcca_reduction, kReductions));
  args.conv_options.layout(sim::parse_conv_layout(args.conv));
  const auto precision = by_name(args.precision, kPrecisions);

  std::string shape_a, shape_b;
  Matrix ma, mb;
  try {
    const auto read = [&](const std::string& path, std::string& shape_text) {
      std::vector<int64_t> shape;
      Matrix m = io::read_sample_matrix(path, args.conv_options, &shape);
      shape_text = io::shape_string(shape);
      return m;
    };
    ma = read(args.file_a, shape_a);
    mb = read(args.file_b, shape_b);
  } catch (const io::FileError& e) {
    fmt::print(stderr, "layerwatch compare: {}\n", e.what());
    return kExitBadData;
  }
  if (ma.rows() != mb.rows()) {
    fmt::print(stderr,
               "layerwatch compare: {} has {} samples (shape {}) but {} has {} (shape {}): both "
               "files must hold activations of the same examples, one row per example\n",
               args.file_a, ma.rows(), shape_a, args.file_b, mb.rows(), shape_b);
    return kExitBadData;
  }
  const DType dtype_a = ma.dtype(), dtype_b = mb.dtype();
  // Each matrix is freed once prepared: the prepared (centred) copy is all the indices need.
  sim::Activations xa(ma, precision);
  ma = Matrix();
  sim::Activations xb(mb, precision);
  mb = Matrix();
  for (const auto& [path, side] : {std::pair{&args.file_a, &xa}, std::pair{&args.file_b, &xb}}) {
    if (side->status() == Status::kNonFinite || side->status() == Status::kEmptyInput) {
      fmt::print(stderr, "layerwatch compare: {}: {}\n", *path, side->message());
      return kExitBadData;
    }
  }
  sim::ActivationPair pair(xa, xb);
  std::vector<MetricRow> rows;
  for (const auto metric : metrics) {
    rows.push_back(
        describe(sim::compute_metric(metric, pair, args.metric_options), args.metric_options));
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
  fmt::print("{:<14} {:>10}  {:<16} {}\n", "metric", "value", "status", "details");
  for (const auto& row : rows) {
    const auto& v = row.fields["value"];
    const std::string value = v.is_null() ? "-" : fmt::format("{:.6f}", v.get<double>());
    fmt::print("{:<14} {:>10}  {:<16} {}\n", row.name, value,
               row.fields["status"].get<std::string>(), row.details);
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
  cmd->add_option_function<double>(
         "--svcca-keep", [args](double keep) { args->metric_options.svcca().keep(keep); },
         "SVCCA: fraction of singular-value mass kept (default 0.99)")
      ->check(CLI::Range(1e-9, 1.0));
  cmd->add_option("--svcca-reduction", args->svcca_reduction,
                  "SVCCA: 'mass' (sum of singular values, default) or 'variance' (squared)")
      ->check(CLI::IsMember(names_of(kReductions)));
  cmd->add_option_function<double>(
         "--rbf-threshold",
         [args](double threshold) { args->metric_options.rbf().threshold(threshold); },
         "RBF CKA: sigma = T * sqrt(median d^2) (default 1)")
      ->check(CLI::PositiveNumber);
  cmd->add_option_function<int64_t>(
         "--rbf-max-samples", [args](int64_t n) { args->metric_options.rbf().max_samples(n); },
         "RBF CKA: largest n for n×n kernels (default 4096)")
      ->check(CLI::Range(int64_t{4}, int64_t{1} << 20));
  cmd->add_option("--conv", args->conv, "4-D inputs: spatial (N*H*W, C), flatten (N, C*H*W), pool")
      ->check(CLI::IsMember(names_of(sim::all_conv_layouts())));
  cmd->add_option_function<int64_t>(
         "--conv-max-samples", [args](int64_t n) { args->conv_options.max_samples(n); },
         "spatial layout: cap on rows, positions subsampled deterministically (0 = all; default "
         "50000)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option_function<int64_t>(
         "--pool-size", [args](int64_t n) { args->conv_options.pool_size(n); },
         "pool layout: output side length (default 1)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--precision", args->precision, "Products in float64 (default) or float32")
      ->check(CLI::IsMember(names_of(kPrecisions)));
  cmd->add_flag("--json", args->as_json, "Print one JSON object instead of a table");
  return [args] { return run_compare(*args); };
}

}  // namespace layerwatch::cli
