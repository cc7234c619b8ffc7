#pragma once
/// @file
/// Linear probes (Alain & Bengio 2016) with control tasks (Hewitt & Liang 2019): how much of a
/// property — here, the class of each probe example — a layer's activations expose to a linear
/// classifier, and how much of that accuracy the probe could reach by memorising its inputs
/// instead.
///
/// A probe is an L2-regularised multinomial logistic regression on the layer's activations,
/// each feature standardised with the training split's mean and standard deviation, fit to
/// convergence by L-BFGS, and scored on held-out examples:
///
///   minimise  (1/n) Σᵢ [log Σ_c exp(zᵢ·w_c + b_c) − (zᵢ·w_{yᵢ} + b_{yᵢ})] + (λ/2) ‖W‖²_F
///
/// (the bias is not penalised). The objective is strictly convex, so the fit is unique and any
/// solver agrees with it. `selectivity` = probe accuracy − control accuracy, both held out, with
/// the same options, split and regularisation: selectivity depends on λ and on the control task
/// (Hewitt & Liang's point), so compare it only between runs that share both.
///
/// @code
///   using namespace layerwatch::probing;
///   auto control = control_task(inputs, labels).labels;        // once per probe set
///   auto r = probe_with_control(features, labels, control);    // per layer and probe pass
///   fmt::print("accuracy {:.3f}, control {:.3f}, selectivity {:.3f}\n", r.probe.accuracy,
///              r.control.accuracy, r.selectivity);
/// @endcode

#include <Eigen/Core>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "layerwatch/core/matrix.h"
#include "layerwatch/core/option.h"
#include "layerwatch/core/status.h"

namespace layerwatch::probing {

/// Options of `fit_linear_probe` and `probe_with_control`.
struct LinearProbeOptions {
  LAYERWATCH_OPTIONS(LinearProbeOptions);
  /// λ, the L2 penalty on the weights of standardised features. Default 0.01: strong enough
  /// that a probe cannot memorise a few hundred examples through thousands of features (which
  /// makes control accuracy, and so selectivity, meaningless), weak enough not to cost the real
  /// task accuracy on separable classes. Range ≥ 0.
  LAYERWATCH_OPTION(double, l2, at_least(0)) = 0.01;
  /// Fraction of the examples held out for the accuracy. Default 0.3, range (0, 1).
  LAYERWATCH_OPTION(double, held_out, range_open_open(0, 1)) = 0.3;
  /// Seed of the split into training and held-out examples. Default 0.
  LAYERWATCH_OPTION(uint64_t, seed, AnyValue{}) = 0;
  /// Most L-BFGS iterations. Default 500, range ≥ 1.
  LAYERWATCH_OPTION(int64_t, max_iterations, at_least(1)) = 500;
  /// Converged when the gradient's largest entry falls below this. Default 1e-6, range > 0.
  LAYERWATCH_OPTION(double, tolerance, above(0)) = 1e-6;
  LAYERWATCH_OPTIONS_END();
};

/// Which examples a probe trains on and which it is scored on.
struct ProbeSplit {
  std::vector<int64_t> train;     ///< Row indices of the training examples.
  std::vector<int64_t> held_out;  ///< Row indices of the scored examples.
};

/// A random split of `n` examples, `held_out` of them (rounded, at least one on each side)
/// scored, from `seed`. Throws `std::invalid_argument` for n < 2.
ProbeSplit split_examples(int64_t n, double held_out, uint64_t seed);

/// A fitted probe.
struct LinearProbeResult {
  Status status = Status::kOk;  ///< kOk, kNonFinite, kTooFewSamples or kEmptyInput.
  std::string message;          ///< Why, when status is not kOk; or a caution (not converged).
  double accuracy = std::numeric_limits<double>::quiet_NaN();        ///< On the held-out rows.
  double train_accuracy = std::numeric_limits<double>::quiet_NaN();  ///< On the training rows.
  double loss = std::numeric_limits<double>::quiet_NaN();  ///< Final objective (with penalty).
  int64_t iterations = 0;                                  ///< L-BFGS iterations used.
  bool converged = false;  ///< Gradient below the tolerance before `max_iterations`.
  int64_t classes = 0;     ///< Number of classes (largest label + 1).
  /// Weights (features × classes) and bias, on the standardised features.
  Eigen::MatrixXd weights;
  Eigen::VectorXd bias;
  Eigen::VectorXd feature_mean;   ///< Standardisation: training mean of each feature.
  Eigen::VectorXd feature_scale;  ///< Standardisation: training std. dev. (1 when constant).
};

/// Fits a probe from `features` (examples × features, float32 or float64) to `labels` (one per
/// row, 0 … classes − 1) on `split.train` and scores it on `split.held_out`. Never throws for
/// bad data (a status instead); throws `std::invalid_argument` when `labels` has another length
/// than the rows, a label is negative, or options are out of range.
LinearProbeResult fit_linear_probe(MatrixRef features, const std::vector<int64_t>& labels,
                                   const ProbeSplit& split, const LinearProbeOptions& options = {});

/// Probe accuracy, control accuracy and their difference for one layer.
struct ProbeWithControl {
  LinearProbeResult probe;    ///< The probe on the real labels.
  LinearProbeResult control;  ///< The same probe on the control task's labels.
  /// probe.accuracy − control.accuracy (NaN unless both have values).
  double selectivity = std::numeric_limits<double>::quiet_NaN();
};

/// Fits the probe on `labels` and on `control_labels` with one split (from `options.seed()`)
/// and one regularisation, and returns both with the selectivity.
ProbeWithControl probe_with_control(MatrixRef features, const std::vector<int64_t>& labels,
                                    const std::vector<int64_t>& control_labels,
                                    const LinearProbeOptions& options = {});

}  // namespace layerwatch::probing
