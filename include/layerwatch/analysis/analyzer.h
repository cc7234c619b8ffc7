#pragma once
/// @file
/// `Analyzer`: the background worker that turns snapshots into convergence records.
///
/// The training thread calls `add_snapshot` (stores it, queues a comparison with its
/// reference) and `end_epoch`; both only take short bookkeeping locks and never wait for
/// analysis. Worker threads compute the similarity with the torch-free core and hand records
/// to the sinks in the order they were queued, whatever the number of threads (so each
/// layer's records arrive in probe order). If analysis falls behind, the queue policy decides what
/// to skip, and skips are counted and logged. No exception crosses threads: a failed job becomes a
/// record with status `kError`, a failing sink is reported once and disabled.
///
/// @code
///   Analyzer analyzer(AnalyzerOptions().metric(Metric::kSvcca), {console, jsonl});
///   analyzer.add_snapshot(std::move(snapshot));   // from the probe pass
///   analyzer.end_epoch(epoch, step);
///   analyzer.finish();                            // final-reference pass, sinks closed
/// @endcode

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "layerwatch/analysis/probing_options.h"
#include "layerwatch/analysis/records.h"
#include "layerwatch/core/matrix.h"
#include "layerwatch/core/option.h"
#include "layerwatch/core/snapshot_store.h"
#include "layerwatch/io/checkpoint.h"
#include "layerwatch/similarity/metric.h"
#include "layerwatch/sinks/sink.h"

namespace layerwatch {

/// What to do when a new snapshot arrives while older ones still wait for analysis.
enum class QueuePolicy {
  kSkipToNewest,  ///< "skip_to_newest" (default): a layer's waiting job is replaced by the newer
                  ///< snapshot; when the queue is full the oldest waiting job is dropped.
  kDropNewest,    ///< "drop_newest": queue everything up to the capacity; beyond it new jobs are
                  ///< dropped.
};

/// Stable name ("skip_to_newest", "drop_newest").
const char* to_string(QueuePolicy policy) noexcept;

/// Options of `Analyzer` (JSON: the "analysis" object of a config, same key names).
struct AnalyzerOptions {
  LAYERWATCH_OPTIONS(AnalyzerOptions);
  /// Similarity metric. Default SVCCA ("svcca"); also "cca", "pwcca", "cka", "cka-debiased",
  /// "cka-rbf", "procrustes".
  LAYERWATCH_OPTION(similarity::Metric, metric,
                    one_of(similarity::all_metrics())) = similarity::Metric::kSvcca;
  /// Options of the metric (SVCCA reduction and fraction, RBF bandwidth).
  LAYERWATCH_OPTION(similarity::MetricOptions, metric_options, AnyValue{}) = {};
  /// Precision of the products. Default float64; float32 is ~2× faster, agrees to ~1e-4.
  LAYERWATCH_OPTION(similarity::Precision, precision,
                    one_of({similarity::Precision::kFloat64,
                            similarity::Precision::kFloat32})) = similarity::Precision::kFloat64;
  /// Online reference: `kPrevious` ("previous", default) or `kFirst` ("first"). (`kFinal` is
  /// always computed by `finish()` when `final_pass` is on.)
  LAYERWATCH_OPTION(Reference, reference,
                    one_of({Reference::kPrevious, Reference::kFirst})) = Reference::kPrevious;
  /// For `kPrevious`: compare with the snapshot this many probe passes earlier. Default 1,
  /// range [1, 1000], and at most `store.history`.
  LAYERWATCH_OPTION(int64_t, reference_lag, range(1, 1000)) = 1;
  /// Compare every stored snapshot with the layer's last one at `finish()`. Default true.
  LAYERWATCH_OPTION(bool, final_pass, AnyValue{}) = true;
  /// Also at `finish()`: every stored snapshot of every layer against every other layer's final
  /// snapshot (the SVCCA paper's layers × layers figure), as records with `reference_layer`.
  /// Costs layers² comparisons per stored probe pass. Default false.
  LAYERWATCH_OPTION(bool, layer_matrix, AnyValue{}) = false;
  /// Bootstrap resamples of the probe examples behind each online record's interval (`low`,
  /// `high`), so a reader or a policy can tell whether 0.88 differs from 0.90. Each resample
  /// costs one more comparison: 200 resamples make analysis ~200× slower. Rows are resampled
  /// one by one; for conv layers in the spatial layout those are positions, not images, and
  /// the record says that its interval is then too narrow. Default 0 (no interval), range
  /// [0, 100000].
  LAYERWATCH_OPTION(int64_t, bootstrap, range(0, 100000)) = 0;
  /// Central probability of the bootstrap interval. Default 0.95, range (0, 1).
  LAYERWATCH_OPTION(double, confidence, range_open_open(0, 1)) = 0.95;
  /// Linear probes with a control task and class-logit CCA on the watched layers. Default:
  /// off.
  LAYERWATCH_OPTION(ProbingOptions, probing, AnyValue{}) = {};
  /// Worker threads. Default 1, range [1, 64].
  LAYERWATCH_OPTION(int64_t, threads, range(1, 64)) = 1;
  /// Queue policy when analysis falls behind. Default `kSkipToNewest` ("skip_to_newest").
  LAYERWATCH_OPTION(QueuePolicy, queue_policy,
                    one_of({QueuePolicy::kSkipToNewest,
                            QueuePolicy::kDropNewest})) = QueuePolicy::kSkipToNewest;
  /// Most comparison jobs waiting at once. Default 256, range [1, 1048576].
  LAYERWATCH_OPTION(int64_t, queue_capacity, range(1, 1 << 20)) = 256;
  /// The snapshot store: history per layer, memory budget, float16 storage.
  LAYERWATCH_OPTION(SnapshotStoreOptions, store, AnyValue{}) = {};
  LAYERWATCH_OPTIONS_END();

  /// reference_lag at most store.history (its snapshot must still be stored). Called by
  /// `validate_options`.
  void check_relations() const;
};

/// Counters, readable at any time.
struct AnalyzerStats {
  int64_t records = 0;         ///< Records delivered (any status).
  int64_t failed = 0;          ///< Records whose status is not usable (no value).
  int64_t skipped = 0;         ///< Comparison jobs skipped by the queue policy.
  int64_t sink_errors = 0;     ///< Sink calls that threw.
  int64_t pending = 0;         ///< Jobs waiting or running now.
  SnapshotStore::Stats store;  ///< The snapshot store's counters.
};

/// The background analyzer. Thread-safe; see the file comment.
class Analyzer {
 public:
  /// Starts the worker threads and opens the sinks. A sink whose `open()` throws is reported
  /// (stderr and an event to the other sinks) and left out; the others keep working.
  /// Throws `std::invalid_argument` for out-of-range options (`validate_options`).
  /// `resume_from`: what `save_state()` returned at a checkpoint; the sinks get their states
  /// (`Sink::restore_state`, by name) before they open, and the store gets the snapshots back,
  /// so references and the final pass continue as if the run had never stopped.
  Analyzer(AnalyzerOptions options, std::vector<std::shared_ptr<Sink>> sinks,
           const CheckpointContents* resume_from = nullptr);
  /// Stops the workers: the job in progress completes, waiting jobs are discarded (their count
  /// is reported), sinks are closed.
  ~Analyzer();
  Analyzer(const Analyzer&) = delete;
  Analyzer& operator=(const Analyzer&) = delete;

  /// Stores a snapshot and queues its comparison with its reference. Never blocks on analysis.
  void add_snapshot(Snapshot snapshot);
  /// The snapshots of one probe pass, each as `add_snapshot`. At the first pass, also says
  /// once (an event, and stderr without a console sink) when the memory budget cannot hold
  /// the reference and the new snapshot of every layer at once, with the budget needed.
  void add_probe_pass(std::vector<Snapshot> snapshots);
  /// The probe examples' labels (class indices, one per example) for the linear probes, and
  /// the probe inputs (examples × input features, e.g. flattened images) from which the
  /// control task is built (on the analyzer thread, at the first probe). Throws
  /// `std::invalid_argument` when a label is negative or the lengths differ.
  void set_probe_labels(std::vector<int64_t> labels, Matrix inputs);
  /// Queues a record as is (e.g. a capture error), delivered in order with the others.
  void add_record(ConvergenceRecord record);
  /// Queues probe records made elsewhere (another rank's analyzer), delivered as they are.
  void add_probe_records(std::vector<ProbeRecord> records);
  /// Queues the layers' forward order for the sinks (`Sink::layer_order`).
  void set_layer_order(std::vector<std::string> layers);
  /// Queues an event for the sinks.
  void add_event(MonitorEvent event);
  /// Queues an event and shows its message once: the console sink prints it, or, without a
  /// console sink, stderr does now.
  void announce(MonitorEvent event);
  /// Marks the end of an epoch: sinks get `end_epoch` after every record queued before it.
  void end_epoch(int64_t epoch, int64_t step);
  /// Waits until every queued job is done and the sinks are flushed.
  void flush();
  /// Runs the final-reference pass (if enabled), waits for it, and closes the sinks. Later
  /// calls do nothing.
  void finish();

  /// The analyzer's part of a checkpoint: waits for every queued job (`flush`), then returns
  /// its counters and every sink's `save_state()` (by name) as JSON, with the stored snapshots
  /// in store order. Call from the thread that adds snapshots.
  CheckpointContents save_state();

  AnalyzerStats stats() const;
  const AnalyzerOptions& options() const;
  /// The snapshots (read-only use; the analyzer owns them).
  const SnapshotStore& store() const;
  /// Names of the sinks that failed to open, with their messages.
  std::vector<std::string> sink_failures() const;
  /// True when one of the sinks is a console sink, which shows the events.
  bool has_console_sink() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace layerwatch
