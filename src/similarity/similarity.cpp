#include "layerwatch/similarity/similarity.h"

namespace layerwatch::similarity {
namespace {

// Every one-call index is "prepare both sides, then ask the pair"; Activations' constructors
// accept both scalar types, so one template serves the float and double overloads.
template <typename Matrix>
ActivationPair make_pair(const Matrix& x, const Matrix& y, Precision precision) {
  return ActivationPair(Activations(x, precision), Activations(y, precision));
}

}  // namespace

#define LAYERWATCH_DEFINE_INDEX(Result, name, Options, call)                        \
  Result name(const Eigen::Ref<const Eigen::MatrixXd>& x,                           \
              const Eigen::Ref<const Eigen::MatrixXd>& y, const Options& options) { \
    auto pair = make_pair(x, y, call##_precision(options));                         \
    return pair.name(options);                                                      \
  }                                                                                 \
  Result name(const Eigen::Ref<const Eigen::MatrixXf>& x,                           \
              const Eigen::Ref<const Eigen::MatrixXf>& y, const Options& options) { \
    auto pair = make_pair(x, y, call##_precision(options));                         \
    return pair.name(options);                                                      \
  }

namespace {
template <typename Options>
Precision options_precision(const Options& options) {
  return options.precision();
}
Precision fixed_precision(const RbfCkaOptions&) { return Precision::kFloat64; }
}  // namespace

LAYERWATCH_DEFINE_INDEX(CcaResult, cca, CcaOptions, options)
LAYERWATCH_DEFINE_INDEX(CcaResult, svcca, SvccaOptions, options)
LAYERWATCH_DEFINE_INDEX(PwccaResult, pwcca, CcaOptions, options)
LAYERWATCH_DEFINE_INDEX(CkaResult, linear_cka, CkaOptions, options)
LAYERWATCH_DEFINE_INDEX(CkaResult, rbf_cka, RbfCkaOptions, fixed)

#undef LAYERWATCH_DEFINE_INDEX

ProcrustesResult procrustes(const Eigen::Ref<const Eigen::MatrixXd>& x,
                            const Eigen::Ref<const Eigen::MatrixXd>& y) {
  return make_pair(x, y, Precision::kFloat64).procrustes();
}

ProcrustesResult procrustes(const Eigen::Ref<const Eigen::MatrixXf>& x,
                            const Eigen::Ref<const Eigen::MatrixXf>& y) {
  return make_pair(x, y, Precision::kFloat64).procrustes();
}

}  // namespace layerwatch::similarity
