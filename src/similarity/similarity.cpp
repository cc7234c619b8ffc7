#include "layerwatch/similarity/similarity.h"

namespace layerwatch::similarity {
namespace {

// Every one-call index is "prepare both sides, then ask the pair".
ActivationPair make_pair(const MatrixRef& x, const MatrixRef& y, Precision precision) {
  return ActivationPair(Activations(x, precision), Activations(y, precision));
}

}  // namespace

CcaResult cca(MatrixRef x, MatrixRef y, const CcaOptions& options, Precision precision) {
  return make_pair(x, y, precision).cca(options);
}

CcaResult svcca(MatrixRef x, MatrixRef y, const SvccaOptions& options, Precision precision) {
  return make_pair(x, y, precision).svcca(options);
}

PwccaResult pwcca(MatrixRef x, MatrixRef y, const CcaOptions& options, Precision precision) {
  return make_pair(x, y, precision).pwcca(options);
}

CkaResult linear_cka(MatrixRef x, MatrixRef y, const CkaOptions& options, Precision precision) {
  return make_pair(x, y, precision).linear_cka(options);
}

CkaResult rbf_cka(MatrixRef x, MatrixRef y, const RbfCkaOptions& options) {
  // The kernels are built in float64 from the centred data: no product to run in float32.
  return make_pair(x, y, Precision::kFloat64).rbf_cka(options);
}

ProcrustesResult procrustes(MatrixRef x, MatrixRef y, Precision precision) {
  return make_pair(x, y, precision).procrustes();
}

}  // namespace layerwatch::similarity
