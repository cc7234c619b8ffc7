#include "layerwatch/probing/class_logit_cca.h"

#include <fmt/format.h>

#include <stdexcept>
#include <type_traits>

#include "layerwatch/similarity/activations.h"

namespace layerwatch::probing {

std::vector<similarity::CcaResult> class_logit_cca(MatrixRef activations, MatrixRef logits,
                                                   const ClassLogitOptions& options) {
  validate_options(options);
  if (activations.rows() != logits.rows()) {
    throw std::invalid_argument(fmt::format(
        "class_logit_cca: {} rows of activations but {} rows of logits: both must hold the same "
        "probe examples, one row each",
        activations.rows(), logits.rows()));
  }
  const similarity::Activations layer(activations, options.precision());
  std::vector<similarity::CcaResult> out;
  out.reserve(static_cast<size_t>(logits.cols()));
  for (Eigen::Index c = 0; c < logits.cols(); ++c) {
    const Matrix logit = logits.visit([c](const auto& m) {
      using Scalar = typename std::decay_t<decltype(m)>::Scalar;
      return Matrix(Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>(m.col(c)));
    });
    similarity::ActivationPair pair(layer, similarity::Activations(logit, options.precision()));
    out.push_back(options.metric() == similarity::Metric::kCca ? pair.cca()
                                                               : pair.svcca(options.svcca()));
  }
  return out;
}

}  // namespace layerwatch::probing
