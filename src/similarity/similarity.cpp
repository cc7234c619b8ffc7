#include "layerwatch/similarity/similarity.h"

namespace layerwatch::similarity {
namespace {

// Every one-call index is "prepare both sides, then ask the pair"; Activations' constructors
// accept both scalar types, so one template serves the float and double overloads.
template <typename Matrix>
ActivationPair make_pair(const Matrix& x, const Matrix& y, Precision precision) {
  return ActivationPair(Activations(x, precision), Activations(y, precision));
}

template <typename Options>
Precision precision_of(const Options& options) {
  return options.precision();
}
// RBF kernels are built in float64 from the centred data; there is no product to speed up.
Precision precision_of(const RbfCkaOptions&) { return Precision::kFloat64; }

}  // namespace

#define LAYERWATCH_DEFINE_INDEX(Result, name, Options)                              \
  Result name(const Eigen::Ref<const Eigen::MatrixXd>& x,                           \
              const Eigen::Ref<const Eigen::MatrixXd>& y, const Options& options) { \
    auto pair = make_pair(x, y, precision_of(options));                             \
    return pair.name(options);                                                      \
  }                                                                                 \
  Result name(const Eigen::Ref<const Eigen::MatrixXf>& x,                           \
              const Eigen::Ref<const Eigen::MatrixXf>& y, const Options& options) { \
    auto pair = make_pair(x, y, precision_of(options));                             \
    return pair.name(options);                                                      \
  }

LAYERWATCH_DEFINE_INDEX(CcaResult, cca, CcaOptions)
LAYERWATCH_DEFINE_INDEX(CcaResult, svcca, SvccaOptions)
LAYERWATCH_DEFINE_INDEX(PwccaResult, pwcca, CcaOptions)
LAYERWATCH_DEFINE_INDEX(CkaResult, linear_cka, CkaOptions)
LAYERWATCH_DEFINE_INDEX(CkaResult, rbf_cka, RbfCkaOptions)

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
