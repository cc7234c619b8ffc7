#include "layerwatch/similarity/metric.h"

#include "core/parse_name.h"

#include <fmt/format.h>

#include <stdexcept>

namespace layerwatch::similarity {
namespace {

template <typename Result>
MetricValue reduce(const Result& r) {
  return MetricValue{r.status, r.message, r.value, {}};
}

MetricValue reduce_cca(const CcaResult& r) {
  auto v = reduce(r);
  v.kept_dims = {r.kept_x, r.kept_y};
  return v;
}

}  // namespace

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

MetricValue compute_metric(Metric metric, ActivationPair& pair, const MetricOptions& options) {
  switch (metric) {
    case Metric::kSvcca:
      return reduce_cca(pair.svcca(options.svcca()));
    case Metric::kCca:
      return reduce_cca(pair.cca());
    case Metric::kPwcca:
      return reduce(pair.pwcca());
    case Metric::kCka:
      return reduce(pair.linear_cka());
    case Metric::kCkaDebiased:
      return reduce(pair.linear_cka(CkaOptions().debiased(true)));
    case Metric::kCkaRbf:
      return reduce(pair.rbf_cka(options.rbf()));
    case Metric::kProcrustes:
      return reduce(pair.procrustes());
  }
  return MetricValue{
      Status::kError, "unknown metric", std::numeric_limits<double>::quiet_NaN(), {}};
}

}  // namespace layerwatch::similarity
