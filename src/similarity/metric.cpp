#include "layerwatch/similarity/metric.h"

#include "core/parse_name.h"

#include <fmt/format.h>

#include <stdexcept>

namespace layerwatch::similarity {
const std::vector<Metric>& all_metrics() {
  static const std::vector<Metric> kAll = {
      Metric::kCca,         Metric::kSvcca,  Metric::kPwcca,     Metric::kCka,
      Metric::kCkaDebiased, Metric::kCkaRbf, Metric::kProcrustes};
  return kAll;
}

const char* to_string(Metric metric) noexcept {
  switch (metric) {
    case Metric::kSvcca:
      return "svcca";
    case Metric::kCca:
      return "cca";
    case Metric::kPwcca:
      return "pwcca";
    case Metric::kCka:
      return "cka";
    case Metric::kCkaDebiased:
      return "cka-debiased";
    case Metric::kCkaRbf:
      return "cka-rbf";
    case Metric::kProcrustes:
      return "procrustes";
  }
  return "unknown";
}

Metric parse_metric(const std::string& name) {
  return layerwatch::detail::parse_name(name, all_metrics(), "metric");
}

bool is_distance(Metric metric) noexcept { return metric == Metric::kProcrustes; }

MetricResult compute_metric(Metric metric, ActivationPair& pair, const MetricOptions& options) {
  MetricResult out;
  out.metric = metric;
  switch (metric) {
    case Metric::kSvcca:
      out.result = pair.svcca(options.svcca());
      break;
    case Metric::kCca:
      out.result = pair.cca();
      break;
    case Metric::kPwcca:
      out.result = pair.pwcca();
      break;
    case Metric::kCka:
      out.result = pair.linear_cka();
      break;
    case Metric::kCkaDebiased:
      out.result = pair.linear_cka(CkaOptions().debiased(true));
      break;
    case Metric::kCkaRbf:
      out.result = pair.rbf_cka(options.rbf());
      break;
    case Metric::kProcrustes:
      out.result = pair.procrustes();
      break;
  }
  return out;
}

const char* to_string(Precision precision) noexcept {
  return precision == Precision::kFloat32 ? "float32" : "float64";
}

const char* to_string(SvccaReduction reduction) noexcept {
  switch (reduction) {
    case SvccaReduction::kSingularValueMass:
      return "mass";
    case SvccaReduction::kExplainedVariance:
      return "variance";
    case SvccaReduction::kFixedDims:
      return "fixed";
  }
  return "unknown";
}

}  // namespace layerwatch::similarity
