#pragma once
/// @file
/// Freeze policies: when to freeze which layer. Torch-free; decisions are made on the
/// analyzer thread (a policy is a `Sink` that sees every record and every epoch end) and
/// applied on the training thread by the Monitor (see freeze_controller.h).
///
/// - `none`: never freezes.
/// - `linear`: the SVCCA paper's schedule. Layer i of L (1-based, in forward order) is frozen
///   after epoch start + (planned_epochs − start) · i / L, where start = `linear_start`.
///   Needs the planned training length.
/// - `adaptive`: a layer is frozen once its convergence value against the `previous` reference
///   has been ≥ `threshold` for `patience` consecutive probe passes, after `min_epochs`, and
///   only when every earlier layer is frozen (bottom-up, so the frozen layers form a prefix whose
///   backward pass is skipped), while at most `max_frozen_fraction` of the layers are frozen.
///   Needs no planned training length.
///
///   auto freeze = FreezeOptions().policy(FreezePolicyKind::kAdaptive).threshold(0.98);

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "layerwatch/core/options.h"
#include "layerwatch/sinks/sink.h"

namespace layerwatch {

/// The policies above.
enum class FreezePolicyKind { kNone, kLinear, kAdaptive };

const char* to_string(FreezePolicyKind kind) noexcept;
/// Parses "none", "linear" or "adaptive"; throws `std::invalid_argument` naming them otherwise.
FreezePolicyKind parse_freeze_policy(const std::string& name);

/// Options of the freeze policies (JSON: the "freeze" object of a config, same key names).
struct FreezeOptions {
  /// Policy. Default none.
  LAYERWATCH_ARG(FreezePolicyKind, policy) = FreezePolicyKind::kNone;
  /// adaptive: the convergence value (the monitor's metric vs the previous snapshot) a layer
  /// must reach. Default 0.88 (SVCCA, chosen on Fashion-MNIST; see docs/freeze.md), range (0, 1].
  LAYERWATCH_ARG(double, threshold) = 0.88;
  /// adaptive: consecutive probe passes at or above the threshold. Default 1, range ≥ 1.
  LAYERWATCH_ARG(int64_t, patience) = 1;
  /// adaptive: no freezing before this many epochs are complete. Default 1, range ≥ 0.
  LAYERWATCH_ARG(int64_t, min_epochs) = 1;
  /// adaptive: most layers frozen, as a fraction of the watched layers (rounded down).
  /// Default 0.67, range [0, 1].
  LAYERWATCH_ARG(double, max_frozen_fraction) = 0.67;
  /// linear: the planned number of epochs (required for linear). Default 0 (unknown).
  LAYERWATCH_ARG(int64_t, planned_epochs) = 0;
  /// linear: the schedule starts after this fraction of the planned epochs. Default 0,
  /// range [0, 1).
  LAYERWATCH_ARG(double, linear_start) = 0.0;
  /// After each probe pass and epoch end, wait for the analysis and apply its decisions before
  /// training goes on, so a layer freezes exactly at the probe's step and a seeded run freezes
  /// at the same steps every time. Costs the analysis time of one probe pass per pass (about
  /// 0.2 s per epoch for the Fashion-MNIST CNN). false: decisions apply at the first `step()`
  /// after the analysis arrives, and training never waits. Default true.
  LAYERWATCH_ARG(bool, wait_for_decisions) = true;

 public:
  /// Throws `std::invalid_argument` naming the field and its range.
  void validate() const;
};

/// A decision to freeze one layer.
struct FreezeDecision {
  std::string layer;
  int64_t step = 0;
  int64_t epoch = 0;
  std::string reason;  ///< Human-readable, e.g. "svcca 0.9962 >= 0.995 for 2 probe passes".
  double value = 0;    ///< The signal that triggered it (NaN for the linear schedule).
};

/// A freeze policy. Receives records as a sink; `take_decisions` hands the pending decisions to
/// the training thread. Thread-safe.
class FreezePolicy : public Sink {
 public:
  explicit FreezePolicy(FreezeOptions options);

  /// The freezable layers in forward order (bottom first). Call before training; layers not
  /// listed are never frozen.
  void set_layers(std::vector<std::string> layers);
  /// Decisions made since the last call, in order.
  std::vector<FreezeDecision> take_decisions();
  /// Layers decided so far, with the epoch of the decision.
  std::map<std::string, int64_t> decided() const;
  const FreezeOptions& options() const { return options_; }

  std::string name() const override { return "freeze-policy"; }
  void write(const ConvergenceRecord& record) override;
  void end_epoch(int64_t epoch) override;

 private:
  void decide_adaptive_locked(int64_t step, int64_t epoch);
  void freeze_locked(const std::string& layer, int64_t step, int64_t epoch, std::string reason,
                     double value);
  size_t max_frozen_locked() const;

  FreezeOptions options_;
  mutable std::mutex mutex_;
  std::vector<std::string> layers_;
  std::map<std::string, int64_t> streak_;
  std::map<std::string, double> last_value_;
  std::map<std::string, int64_t> decided_;
  std::vector<FreezeDecision> pending_;
  similarity::Metric metric_ = similarity::Metric::kSvcca;
  int64_t last_step_ = 0;
};

}  // namespace layerwatch
