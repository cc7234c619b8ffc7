#pragma once
/// @file
/// `ProbingOptions`: what the analyzer learns about each watched layer beyond its convergence —
/// linear probes with a control task (probing/linear_probe.h) and class-logit CCA
/// (probing/class_logit_cca.h), at every `every`-th probe pass. JSON: the "probing" object of
/// the "analysis" config, same key names.

#include <cstdint>
#include <string>

#include "layerwatch/core/option.h"
#include "layerwatch/probing/linear_probe.h"

namespace layerwatch {

/// Options of the analyzer's probes. Both are off by default. With either on, each stored
/// snapshot of a layer that `sample_cap` subsampled also keeps which rows it kept (8 bytes a
/// row, outside the memory budget), so that the probes know each row's example.
struct ProbingOptions {
  LAYERWATCH_OPTIONS(ProbingOptions);
  /// Fit a linear probe (and the same probe on the control task) on every watched layer: the
  /// records' accuracy, control_accuracy and selectivity. Needs the probe examples' labels
  /// (`Monitor::set_probe_labels`). Default false.
  LAYERWATCH_OPTION(bool, linear_probe, AnyValue{}) = false;
  /// The probe's regularisation, held-out split and solver (defaults: λ = 0.01 on standardised
  /// features, 30 % held out, L-BFGS to a gradient of 1e-6).
  LAYERWATCH_OPTION(probing::LinearProbeOptions, probe, AnyValue{}) = {};
  /// Clusters of the control task; 0 = one per 10 probe examples. Default 0.
  LAYERWATCH_OPTION(int64_t, control_clusters, at_least(0)) = 0;
  /// Class-logit CCA: the watched layer whose outputs are the class logits (the last Linear,
  /// e.g. "classifier.2"); every other watched layer is compared with each of its columns.
  /// Empty (default): off.
  LAYERWATCH_OPTION(std::string, class_logits, AnyValue{}) = "";
  /// Probe at every this-many-th probe pass (the first pass included). Default 1, range ≥ 1.
  LAYERWATCH_OPTION(int64_t, every, at_least(1)) = 1;
  LAYERWATCH_OPTIONS_END();

  /// True when either probe is on.
  bool enabled() const { return linear_probe_ || !class_logits_.empty(); }
};

}  // namespace layerwatch
