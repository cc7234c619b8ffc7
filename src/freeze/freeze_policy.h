#pragma once
// Freeze policies (see layerwatch/freeze/freeze.h for what each does): decisions are
// made on the analyzer thread, since a policy is a Sink that sees every record and every epoch
// end, and applied on the training thread by the Monitor (freeze_controller.h).

#include <cstdint>
#include <limits>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "layerwatch/freeze/freeze.h"
#include "layerwatch/sinks/sink.h"

namespace layerwatch {

/// A decision to freeze one layer.
struct FreezeDecision {
  std::string layer;
  int64_t step = 0;
  int64_t epoch = 0;
  std::string reason;  ///< Human-readable, e.g. "svcca 0.9962 >= 0.995 for 2 probe passes".
  double value = 0;    ///< The signal that triggered it (NaN for the linear schedule).
};

/// A decision as JSON (`value` null when NaN), and back; from_json throws nlohmann's exceptions
/// for a missing or mistyped field. Checkpoints and the ranks of a data-parallel run use it.
nlohmann::json to_json(const FreezeDecision& decision);
FreezeDecision decision_from_json(const nlohmann::json& object);

/// The forecast policy's signal: 1 − drift × the learning rate still to come, at least 0 (NaN
/// when either is not finite).
double forecast_similarity(double drift, double learning_rate_to_come);

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

  /// drift, forecast: one probe pass's drift per unit of learning rate of each unit (the
  /// training thread measures it, `FreezeOptions`) and the learning rate still to come (the
  /// forecast's horizon; NaN when unknown); decides at once. Units not listed have no value
  /// this pass. Other policies ignore it.
  void observe_drift(int64_t step, int64_t epoch, const std::map<std::string, double>& drift,
                     double learning_rate_to_come = std::numeric_limits<double>::quiet_NaN());

  std::string name() const override { return "freeze-policy"; }
  void write(const ConvergenceRecord& record) override;
  void end_epoch(int64_t epoch) override;
  /// Streaks, last values, the layers decided and the decisions not yet applied.
  nlohmann::json save_state() override;
  void restore_state(const nlohmann::json& state) override;

 private:
  void decide_adaptive_locked(int64_t step, int64_t epoch);
  void decide_drift_locked(int64_t step, int64_t epoch, const std::map<std::string, double>& drift);
  void decide_forecast_locked(int64_t step, int64_t epoch,
                              const std::map<std::string, double>& drift,
                              double learning_rate_to_come);
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
