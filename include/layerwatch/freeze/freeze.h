#pragma once
/// @file
/// Freeze training's public types, torch-free: `FreezeOptions` (which freeze policy the monitor
/// runs, and its knobs) and `FrozenLayer` (what freezing a layer did). The policies decide when
/// to freeze which layer:
///
/// - `none`: never freezes.
/// - `linear`: the SVCCA paper's schedule. Layer i of L (1-based, in forward order) is frozen
///   after epoch start + (planned_epochs − start) · min(1, α · i / L), where start =
///   `linear_start` · planned_epochs and α = `linear_pace` (1: the paper's; below 1 freezes
///   sooner, above 1 later). Needs the planned training length.
/// - `adaptive`: a layer is frozen once its convergence value against the `previous` reference
///   has been ≥ `threshold` for `patience` consecutive probe passes, after `min_epochs`, and
///   only when every earlier layer is frozen (bottom-up, so the frozen layers form a prefix whose
///   backward pass is skipped), while at most `max_frozen_fraction` of the layers are frozen.
///   Needs no planned training length.
/// - `drift`: a signal free of the learning rate and of the layers before: at each probe pass,
///   each unit's current weights run on its input as it was at the previous probe pass (the
///   previous unit's output then), and the result is compared with the unit's previous output:
///   its relative change, divided by the learning rate summed over the steps between the two
///   passes. An upstream freeze cannot make a unit look converged (its input is the stored
///   one), and a falling learning rate does not either (the drift is per unit of it). The first
///   unfrozen unit is frozen once its drift has been below `drift_fraction` × the median drift
///   of the units still training for `patience` consecutive probe passes, after `min_epochs`,
///   up to `max_frozen_fraction`. Needs the units as a chain (`Monitor::set_unit_chain`) and
///   an attached optimizer (for its learning rate); runs in one process (not after
///   `Monitor::distribute`).
/// - `forecast`: forecast similarity to the final snapshot. At each probe pass each unit's
///   drift per unit of learning rate is measured as for `drift`, and multiplied by the learning
///   rate still to come (summed over the steps left, from `Monitor::set_learning_rate_schedule`):
///   the forecast relative change of the unit's output between now and the end of training on
///   the same input; its forecast similarity to its final output is 1 minus that (at least 0).
///   The first unfrozen unit is frozen once that has been ≥ `forecast_similarity` for
///   `patience` consecutive probe passes, after `min_epochs`, up to `max_frozen_fraction`.
///   Bottom-up, the candidate's input stops changing once the units before it are frozen, so
///   its own drift is then all the change still to come. The rate per unit of learning rate
///   falls as training settles, so the forecast errs on the late side. Needs the unit chain,
///   an attached optimizer and the schedule; runs in one process.
///
/// @code
///   auto freeze = FreezeOptions().policy(FreezePolicyKind::kAdaptive).threshold(0.98);
/// @endcode

#include <cstdint>
#include <string>

#include "layerwatch/core/option.h"

namespace layerwatch {

/// The policies above.
enum class FreezePolicyKind {
  kNone,      ///< "none"
  kLinear,    ///< "linear"
  kAdaptive,  ///< "adaptive"
  kDrift,     ///< "drift"
  kForecast,  ///< "forecast"
};

/// Stable name ("none", "linear", "adaptive", "drift", "forecast").
const char* to_string(FreezePolicyKind kind) noexcept;
/// Parses "none", "linear", "adaptive", "drift" or "forecast"; throws `std::invalid_argument`
/// naming them otherwise.
FreezePolicyKind parse_freeze_policy(const std::string& name);

/// Options of the freeze policies (JSON: the "freeze" object of a config, same key names).
struct FreezeOptions {
  LAYERWATCH_OPTIONS(FreezeOptions);
  /// Policy. Default none.
  LAYERWATCH_OPTION(FreezePolicyKind, policy,
                    one_of({FreezePolicyKind::kNone, FreezePolicyKind::kLinear,
                            FreezePolicyKind::kAdaptive, FreezePolicyKind::kDrift,
                            FreezePolicyKind::kForecast})) = FreezePolicyKind::kNone;
  /// adaptive: the convergence value (the monitor's metric vs the previous snapshot) a layer
  /// must reach. Default 0.88 (SVCCA, chosen on Fashion-MNIST; see docs/freeze.md), range (0, 1].
  LAYERWATCH_OPTION(double, threshold, range_open_closed(0, 1)) = 0.88;
  /// adaptive, drift, forecast: consecutive probe passes that meet the rule. Default 1, range [1,
  /// 1000].
  LAYERWATCH_OPTION(int64_t, patience, range(1, 1000)) = 1;
  /// adaptive, drift, forecast: no freezing before this many epochs are complete. Default 1, range
  /// [0, 100000].
  LAYERWATCH_OPTION(int64_t, min_epochs, range(0, 100000)) = 1;
  /// drift: the first unfrozen unit freezes when its drift per unit of learning rate is below
  /// this fraction of the median over the units still training. Default 0.5, range (0, 1].
  LAYERWATCH_OPTION(double, drift_fraction, range_open_closed(0, 1)) = 0.5;
  /// forecast: κ, the forecast similarity of a unit to its final output (1 − the forecast
  /// relative change of its output still to come) at which it freezes. Default 0.9, range
  /// (0, 1]; docs/freeze.md has its calibration.
  LAYERWATCH_OPTION(double, forecast_similarity, range_open_closed(0, 1)) = 0.9;
  /// drift, forecast: probe examples the drift is measured on (the first ones of the probe set; the
  /// units' outputs on them are kept from one probe pass to the next). Default 256, range
  /// [2, 1000000].
  LAYERWATCH_OPTION(int64_t, drift_examples, range(2, 1000000)) = 256;
  /// adaptive, drift, forecast: most layers frozen, as a fraction of the watched layers (rounded
  /// down). Default 0.67, range [0, 1].
  LAYERWATCH_OPTION(double, max_frozen_fraction, range(0, 1)) = 0.67;
  /// linear: the planned number of epochs (required for linear). Default 0 (unknown), range
  /// [0, 100000].
  LAYERWATCH_OPTION(int64_t, planned_epochs, range(0, 100000)) = 0;
  /// linear: the schedule starts after this fraction of the planned epochs. Default 0,
  /// range [0, 1).
  LAYERWATCH_OPTION(double, linear_start, range_closed_open(0, 1)) = 0.0;
  /// linear: the pace α; layer i of L is due at the fraction min(1, α·i/L) of the schedule, so
  /// the family of schedules α ∈ {0.6, 0.8, 1.0, 1.2} spans the time/accuracy trade-off a
  /// policy is measured against. Default 1, range (0, 10].
  LAYERWATCH_OPTION(double, linear_pace, range_open_closed(0, 10)) = 1.0;
  /// every policy: a decided unit is first cooled down, then frozen (FreezeOut's insight: a
  /// unit frozen while its learning rate is high is frozen at a noisy point). Over this many
  /// epochs (turned into steps with the last complete epoch's length) the monitor scales what
  /// each optimizer step moves the unit's parameters by 1 − k/n at the k-th of n steps, then
  /// freezes it. Scaling the step itself is scaling that unit's learning rate for SGD (with
  /// momentum), Adam and AdamW, whose state does not depend on the rate, and it holds whatever
  /// the training loop does to the param groups' rates; it needs `step()` after every
  /// `optimizer.step()`. The unit still trains (and costs its backward pass) while cooling.
  /// Default 0 (freeze at once), range [0, 100].
  LAYERWATCH_OPTION(double, cooldown_epochs, range(0, 100)) = 0.0;
  /// After each probe pass and epoch end, wait for the analysis and apply its decisions before
  /// training goes on, so a layer freezes exactly at the probe's step and a seeded run freezes
  /// at the same steps every time. Costs the analysis time of one probe pass per pass (about
  /// 0.2 s per epoch for the Fashion-MNIST CNN). false: decisions apply at the first `step()`
  /// after the analysis arrives, and training never waits. Default true.
  LAYERWATCH_OPTION(bool, wait_for_decisions, AnyValue{}) = true;

  LAYERWATCH_OPTIONS_END();

  /// The linear policy needs planned_epochs ≥ 1. Called by `validate_options`.
  void check_relations() const;
};

/// What freezing one layer touched.
struct FreezeReport {
  int64_t parameters = 0;               ///< Parameter tensors frozen.
  int64_t removed_from_optimizer = 0;   ///< Parameter entries removed from param groups.
  int64_t optimizer_states_erased = 0;  ///< Optimizer states erased (momentum, Adam moments).
  int64_t batchnorm_modules = 0;        ///< BatchNorm modules kept in eval mode from now on.
  bool autograd_skipped = false;        ///< The layer now runs without autograd.
};

/// A layer (freeze unit) the monitor froze: when, and what it touched.
struct FrozenLayer {
  std::string layer;    ///< The unit's name.
  int64_t step = 0;     ///< `step()` calls completed when it froze.
  int64_t epoch = 0;    ///< Epochs completed when it froze.
  FreezeReport report;  ///< What freezing it touched.
};

}  // namespace layerwatch
