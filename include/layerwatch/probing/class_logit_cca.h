#pragma once
/// @file
/// Class-logit CCA (Raghu et al. 2017, the SVCCA paper's interpretability section): which
/// classes a layer has learned to represent, and when. For each class, the canonical
/// correlation between the layer's activations on the probe set and that class's output logit.
/// With a one-dimensional second view, CCA has one canonical correlation, the multiple
/// correlation R of the logit on the activations (R² of the least-squares fit with an
/// intercept); SVCCA first keeps the layer's top singular directions, as in the paper, which
/// stops a wide layer from fitting any logit exactly on few examples.
///
/// @code
///   auto r = layerwatch::probing::class_logit_cca(layer_acts, logits);
///   for (size_t c = 0; c < r.size(); ++c) fmt::print("class {}: {:.3f}\n", c, r[c].value);
/// @endcode

#include <vector>

#include "layerwatch/core/matrix.h"
#include "layerwatch/core/option.h"
#include "layerwatch/similarity/metric.h"

namespace layerwatch::probing {

/// Options of `class_logit_cca`.
struct ClassLogitOptions {
  LAYERWATCH_OPTIONS(ClassLogitOptions);
  /// `kSvcca` (default: the layer reduced to its top directions first) or `kCca` (all its
  /// directions: the plain multiple correlation).
  LAYERWATCH_OPTION(similarity::Metric, metric,
                    one_of({similarity::Metric::kSvcca,
                            similarity::Metric::kCca})) = similarity::Metric::kSvcca;
  /// The layer's SVD reduction for `kSvcca`. Default: singular-value mass 0.99.
  LAYERWATCH_OPTION(similarity::SvccaOptions, svcca, AnyValue{}) = {};
  /// Products in float64 (default) or float32.
  LAYERWATCH_OPTION(similarity::Precision, precision,
                    one_of({similarity::Precision::kFloat64,
                            similarity::Precision::kFloat32})) = similarity::Precision::kFloat64;
  LAYERWATCH_OPTIONS_END();
};

/// One result per class (column of `logits`, examples × classes), each with its status: `value`
/// is the class's canonical correlation with `activations` (examples × features). The layer is
/// prepared once for all classes. Throws `std::invalid_argument` when the row counts differ.
std::vector<similarity::CcaResult> class_logit_cca(MatrixRef activations, MatrixRef logits,
                                                   const ClassLogitOptions& options = {});

}  // namespace layerwatch::probing
