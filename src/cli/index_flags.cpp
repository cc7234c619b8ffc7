#include "index_flags.h"

#include <stdexcept>

namespace layerwatch::cli {
namespace sim = layerwatch::similarity;
namespace {

const std::vector<sim::SvccaReduction> kReductions = {sim::SvccaReduction::kSingularValueMass,
                                                      sim::SvccaReduction::kExplainedVariance};
const std::vector<sim::Precision> kPrecisions = {sim::Precision::kFloat64,
                                                 sim::Precision::kFloat32};

template <typename E>
E by_name(const std::string& name, const std::vector<E>& values) {
  for (const auto v : values) {
    if (name == to_string(v)) return v;
  }
  throw std::invalid_argument("unknown name " + name);  // CLI11 checked the name already
}

}  // namespace

sim::Precision IndexFlags::resolve() {
  metric_options.svcca().reduction(by_name(svcca_reduction, kReductions));
  if (!conv.empty()) conv_options.layout(sim::parse_conv_layout(conv));
  return by_name(precision, kPrecisions);
}

void add_index_flags(CLI::App* cmd, const std::shared_ptr<IndexFlags>& flags,
                     const std::string& conv_help) {
  cmd->add_option_function<double>(
         "--svcca-keep", [flags](double keep) { flags->metric_options.svcca().keep(keep); },
         "SVCCA: fraction of singular-value mass kept (default 0.99)")
      ->check(CLI::Range(1e-9, 1.0));
  cmd->add_option("--svcca-reduction", flags->svcca_reduction,
                  "SVCCA: 'mass' (sum of singular values, default) or 'variance' (squared)")
      ->check(CLI::IsMember(names_of(kReductions)));
  cmd->add_option_function<double>(
         "--rbf-threshold",
         [flags](double threshold) { flags->metric_options.rbf().threshold(threshold); },
         "RBF CKA: sigma = T * sqrt(median d^2) (default 1)")
      ->check(CLI::PositiveNumber);
  cmd->add_option_function<int64_t>(
         "--rbf-max-samples", [flags](int64_t n) { flags->metric_options.rbf().max_samples(n); },
         "RBF CKA: largest n for n×n kernels (default 4096)")
      ->check(CLI::Range(int64_t{4}, int64_t{1} << 20));
  cmd->add_option("--conv", flags->conv, conv_help)
      ->check(CLI::IsMember(names_of(sim::all_conv_layouts())));
  cmd->add_option_function<int64_t>(
         "--conv-max-samples", [flags](int64_t n) { flags->conv_options.max_samples(n); },
         "spatial layout: cap on rows, positions subsampled deterministically (0 = all; default "
         "50000)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option_function<int64_t>(
         "--pool-size", [flags](int64_t n) { flags->conv_options.pool_size(n); },
         "pool layout: output side length")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--precision", flags->precision, "Products in float64 (default) or float32")
      ->check(CLI::IsMember(names_of(kPrecisions)));
}

}  // namespace layerwatch::cli
