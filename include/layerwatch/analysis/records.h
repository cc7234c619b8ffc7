#pragma once
/// @file
/// What the analyzer produces: `ConvergenceRecord`s (one similarity value of one layer against
/// a reference snapshot) and `MonitorEvent`s (drops, skips, errors, freezes). Both go to the
/// sinks, in order, on the analyzer thread.

#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "layerwatch/core/status.h"
#include "layerwatch/similarity/metric.h"

namespace layerwatch {

/// Which snapshot a layer's new snapshot is compared with.
enum class Reference {
  kPrevious,  ///< "previous": the same layer's snapshot `reference_lag` probe passes earlier —
              ///< the online convergence signal.
  kFirst,     ///< "first": the layer's first snapshot of the run (pinned in the store).
  kFinal,     ///< "final": the layer's last snapshot, compared at `finish()` with every stored
              ///< one (the SVCCA paper's learning-dynamics curves).
};

/// Stable name ("previous", "first", "final").
const char* to_string(Reference reference) noexcept;
/// Parses a name; throws `std::invalid_argument` naming the allowed values otherwise.
Reference parse_reference(const std::string& name);

/// One similarity value of one layer's snapshot against a reference snapshot.
/// Serialised as one JSON object per line (see `sinks/record_json.h`).
struct ConvergenceRecord {
  /// Version of the serialised form; bumped when a field changes meaning.
  static constexpr int kSchemaVersion = 1;

  int64_t step = 0;         ///< Training steps completed at the snapshot.
  int64_t epoch = 0;        ///< Epochs completed at the snapshot.
  int64_t probe_index = 0;  ///< Probe pass of the snapshot.
  std::string layer;        ///< Capture point name.
  Reference reference = Reference::kPrevious;
  /// The reference snapshot's layer when it is another layer (the layers × layers matrix);
  /// empty when it is the same layer.
  std::string reference_layer;
  int64_t reference_step = -1;   ///< Step of the reference snapshot (−1 if there was none).
  int64_t reference_epoch = -1;  ///< Epoch of the reference snapshot.
  similarity::Metric metric = similarity::Metric::kSvcca;
  double value = std::numeric_limits<double>::quiet_NaN();  ///< NaN unless has_value(status).
  Status status = Status::kOk;
  std::string message;             ///< Why, when status is not kOk (or a caution).
  std::vector<int64_t> kept_dims;  ///< Directions kept per side (SVCCA/CCA), else empty.
  /// Bootstrap interval of `value` over the probe examples (`AnalyzerOptions::bootstrap`), at
  /// `AnalyzerOptions::confidence`; NaN when not computed.
  double low = std::numeric_limits<double>::quiet_NaN();
  double high = std::numeric_limits<double>::quiet_NaN();  ///< Upper end of the interval.
  double compute_ms = 0;                                   ///< Analyzer time spent on this record.
};

/// What a layer's activations on the probe set tell a probe: a linear probe's accuracy with its
/// control task (`kLinearProbe`), or one class's class-logit CCA (`kClassLogit`). Serialised to
/// `probes.jsonl` (see `sinks/record_json.h`).
struct ProbeRecord {
  enum class Kind {
    kLinearProbe,  ///< "linear_probe": accuracy, control_accuracy, selectivity.
    kClassLogit,   ///< "class_logit": `value` for class `class_index`.
  };
  Kind kind = Kind::kLinearProbe;
  int64_t step = 0;         ///< Training steps completed at the probe pass.
  int64_t epoch = 0;        ///< Epochs completed at the probe pass.
  int64_t probe_index = 0;  ///< The probe pass.
  std::string layer;        ///< Capture point name.
  /// Held-out accuracy of the linear probe on the real labels.
  double accuracy = std::numeric_limits<double>::quiet_NaN();
  /// Held-out accuracy of the same probe on the control task.
  double control_accuracy = std::numeric_limits<double>::quiet_NaN();
  /// accuracy − control_accuracy.
  double selectivity = std::numeric_limits<double>::quiet_NaN();
  /// Training-split accuracy on the real labels (how much the probe fits).
  double train_accuracy = std::numeric_limits<double>::quiet_NaN();
  int64_t class_index = -1;  ///< `kClassLogit`: the class (column of the logits layer).
  /// `kClassLogit`: canonical correlation of the layer with that class's logit.
  double value = std::numeric_limits<double>::quiet_NaN();
  Status status = Status::kOk;
  std::string message;  ///< Why, when status is not kOk (or a caution).
  double compute_ms = 0;
};

/// Stable name of a probe record kind ("linear_probe", "class_logit").
const char* to_string(ProbeRecord::Kind kind) noexcept;

/// Something the monitor did or could not do, logged beside the records.
struct MonitorEvent {
  /// What happened.
  enum class Kind {
    kSnapshotEvicted,  ///< Old snapshots left the store to respect its budget or capacity.
    kSnapshotRefused,  ///< A new snapshot did not fit in the memory budget.
    kJobsSkipped,      ///< The analyzer fell behind and skipped snapshots (count in `count`).
    kCaptureError,     ///< A capture point could not record its layer.
    kSinkError,        ///< A sink failed to write; training goes on.
    kFreeze,           ///< A layer was frozen (`value` is the signal that triggered it).
    kNote,             ///< Anything else worth a line in the log.
  };
  Kind kind = Kind::kNote;
  int64_t step = 0;
  int64_t epoch = 0;
  std::string layer;  ///< Empty when not about one layer.
  std::string message;
  double value = std::numeric_limits<double>::quiet_NaN();
  int64_t count = 0;

  /// An event of `kind` at `step` and `epoch` saying `message`, about `layer` if given.
  static MonitorEvent make(Kind kind, int64_t step, int64_t epoch, std::string message,
                           std::string layer = "", int64_t count = 0) {
    MonitorEvent event;
    event.kind = kind;
    event.step = step;
    event.epoch = epoch;
    event.message = std::move(message);
    event.layer = std::move(layer);
    event.count = count;
    return event;
  }
};

/// Stable name of an event kind ("snapshot_evicted", "jobs_skipped", …).
const char* to_string(MonitorEvent::Kind kind) noexcept;

}  // namespace layerwatch
