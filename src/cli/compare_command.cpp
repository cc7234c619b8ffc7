// `layerwatch compare A B`: similarity indices between two saved activation files.

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "commands.h"
#include "layerwatch/io/any_reader.h"
#include "layerwatch/similarity/metric.h"
#include "layerwatch/similarity/similarity.h"

namespace layerwatch::cli {
namespace {

using nlohmann::json;
namespace sim = layerwatch::similarity;

std::vector<std::string> metric_names() {
  std::vector<std::string> names;
  for (const auto m : sim::all_metrics()) names.emplace_back(sim::to_string(m));
  return names;
}

struct CompareArgs {
  std::string file_a, file_b;
  std::vector<std::string> metrics{"svcca"};
  double svcca_keep = 0.99;
  std::string svcca_reduction = "mass";
  double rbf_threshold = 1.0;
  int64_t rbf_max_samples = 4096;
  std::string conv = "spatial";
  int64_t conv_max_samples = 50000;
  int64_t pool_size = 1;
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

MetricRow base_row(const std::string& name, const sim::ResultBase& r) {
  MetricRow row{name, json::object(), ""};
  row.fields["value"] = number_or_null(r.value);
  row.fields["status"] = to_string(r.status);
  if (!r.message.empty()) row.fields["message"] = r.message;
  if (!r.dropped_x.empty() || !r.dropped_y.empty()) {
    row.fields["dropped_constant"] = {r.dropped_x, r.dropped_y};
  }
  return row;
}

MetricRow cca_row(const std::string& name, const sim::CcaResult& r) {
  auto row = base_row(name, r);
  row.fields["r2_cca"] = number_or_null(r.r2);
  row.fields["kept_dims"] = {r.kept_x, r.kept_y};
  row.fields["rho"] = vector_json(r.rho);
  if (has_value(r.status)) {
    row.details = fmt::format("R²_CCA {:.6f}, dims {} / {}", r.r2, r.kept_x, r.kept_y);
  }
  return row;
}

MetricRow compute(const std::string& metric, sim::ActivationPair& pair, const CompareArgs& args) {
  if (metric == "cca") return cca_row(metric, pair.cca());
  if (metric == "svcca") {
    sim::SvccaOptions options;
    options.keep(args.svcca_keep);
    options.reduction(args.svcca_reduction == "variance" ? sim::SvccaReduction::kExplainedVariance
                                                         : sim::SvccaReduction::kSingularValueMass);
    return cca_row(metric, pair.svcca(options));
  }
  if (metric == "pwcca") {
    const auto r = pair.pwcca();
    auto row = base_row(metric, r);
    row.fields["rho"] = vector_json(r.rho);
    row.fields["weights"] = vector_json(r.weights);
    row.fields["weighted_by"] = r.weighted_by_x ? "A" : "B";
    if (has_value(r.status))
      row.details = fmt::format("weights from {}", r.weighted_by_x ? "A" : "B");
    return row;
  }
  if (metric == "cka") return base_row(metric, pair.linear_cka());
  if (metric == "cka-debiased")
    return base_row(metric, pair.linear_cka(sim::CkaOptions().debiased(true)));
  if (metric == "cka-rbf") {
    auto row = base_row(
        metric,
        pair.rbf_cka(
            sim::RbfCkaOptions().threshold(args.rbf_threshold).max_samples(args.rbf_max_samples)));
    row.fields["threshold"] = args.rbf_threshold;
    row.details = fmt::format("threshold {}", args.rbf_threshold);
    return row;
  }
  const auto r = pair.procrustes();
  auto row = base_row(metric, r);
  row.fields["angular"] = number_or_null(r.angular);
  if (has_value(r.status)) row.details = fmt::format("distance; angular {:.6f} rad", r.angular);
  return row;
}

sim::Activations prepare(const io::SampleMatrix& m, sim::Precision precision) {
  return m.dtype == io::DType::kFloat32 ? sim::Activations(m.f32, precision)
                                        : sim::Activations(m.f64, precision);
}

const char* dtype_name(io::DType d) { return d == io::DType::kFloat32 ? "float32" : "float64"; }

int run_compare(const CompareArgs& args) {
  std::vector<std::string> metrics;
  for (const auto& m : args.metrics) {
    if (m == "all") {
      metrics = metric_names();
      break;
    }
    metrics.push_back(m);
  }
  sim::ConvLayoutOptions conv;
  conv.layout(sim::parse_conv_layout(args.conv))
      .max_samples(args.conv_max_samples)
      .pool_size(args.pool_size);
  const auto precision =
      args.precision == "float32" ? sim::Precision::kFloat32 : sim::Precision::kFloat64;

  io::Array a, b;
  io::SampleMatrix ma, mb;
  try {
    a = io::read_activation_file(args.file_a);
    b = io::read_activation_file(args.file_b);
    const auto to_matrix = [&](const std::string& path, const io::Array& array) {
      try {
        return io::to_sample_matrix(array, conv);
      } catch (const std::invalid_argument& e) {
        throw io::FileError(path, e.what());
      }
    };
    ma = to_matrix(args.file_a, a);
    mb = to_matrix(args.file_b, b);
  } catch (const io::FileError& e) {
    fmt::print(stderr, "layerwatch compare: {}\n", e.what());
    return kExitBadData;
  }
  if (ma.rows() != mb.rows()) {
    fmt::print(stderr,
               "layerwatch compare: {} has {} samples (shape {}) but {} has {} (shape {}): both "
               "files must hold activations of the same examples, one row per example\n",
               args.file_a, ma.rows(), a.shape_string(), args.file_b, mb.rows(), b.shape_string());
    return kExitBadData;
  }
  // Free the arrays before the heavy work: the matrices hold their own copies.
  const std::string shape_a = a.shape_string(), shape_b = b.shape_string();
  const char* dtype_a = dtype_name(ma.dtype);
  const char* dtype_b = dtype_name(mb.dtype);
  a = io::Array();
  b = io::Array();
  auto xa = prepare(ma, precision);
  ma = io::SampleMatrix();
  auto xb = prepare(mb, precision);
  mb = io::SampleMatrix();
  for (const auto& [path, side] : {std::pair{&args.file_a, &xa}, std::pair{&args.file_b, &xb}}) {
    if (side->status() == Status::kNonFinite || side->status() == Status::kEmptyInput) {
      fmt::print(stderr, "layerwatch compare: {}: {}\n", *path, side->message());
      return kExitBadData;
    }
  }
  sim::ActivationPair pair(xa, xb);
  std::vector<MetricRow> rows;
  for (const auto& metric : metrics) rows.push_back(compute(metric, pair, args));

  if (args.as_json) {
    json out;
    out["n_samples"] = xa.samples();
    out["features"] = {xa.features(), xb.features()};
    out["files"] = {args.file_a, args.file_b};
    out["precision"] = args.precision;
    out["metrics"] = json::object();
    for (const auto& row : rows) out["metrics"][row.name] = row.fields;
    fmt::print("{}\n", out.dump());
    return kExitOk;
  }
  fmt::print("A: {}  {}  {}\nB: {}  {}  {}\n{} samples, {} vs {} features\n\n", args.file_a,
             shape_a, dtype_a, args.file_b, shape_b, dtype_b, xa.samples(), xa.features(),
             xb.features());
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
  std::vector<std::string> allowed = metric_names();
  allowed.push_back("all");
  cmd->add_option("--metric", args->metrics, "Metric(s), comma-separated (default svcca)")
      ->delimiter(',')
      ->check(CLI::IsMember(allowed));
  cmd->add_option("--svcca-keep", args->svcca_keep, "SVCCA: fraction of singular-value mass kept")
      ->check(CLI::Range(1e-9, 1.0));
  cmd->add_option("--svcca-reduction", args->svcca_reduction,
                  "SVCCA: 'mass' (sum of singular values, default) or 'variance' (squared)")
      ->check(CLI::IsMember({"mass", "variance"}));
  cmd->add_option("--rbf-threshold", args->rbf_threshold, "RBF CKA: sigma = T * sqrt(median d^2)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--rbf-max-samples", args->rbf_max_samples, "RBF CKA: largest n for n×n kernels")
      ->check(CLI::Range(int64_t{4}, int64_t{1} << 20));
  cmd->add_option("--conv", args->conv, "4-D inputs: spatial (N*H*W, C), flatten (N, C*H*W), pool")
      ->check(CLI::IsMember({"spatial", "flatten", "pool"}));
  cmd->add_option("--conv-max-samples", args->conv_max_samples,
                  "spatial layout: cap on rows, positions subsampled deterministically (0 = all)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--pool-size", args->pool_size, "pool layout: output side length")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--precision", args->precision, "Products in float64 (default) or float32")
      ->check(CLI::IsMember({"float64", "float32"}));
  cmd->add_flag("--json", args->as_json, "Print one JSON object instead of a table");
  return [args] { return run_compare(*args); };
}

}  // namespace layerwatch::cli
