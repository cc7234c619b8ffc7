#pragma once
/// @file
/// `MonitorOptions`: every knob of `layerwatch::Monitor`, with chained setters and a JSON
/// config form (`configs/default.json` lists every key with its default). Torch-free, so
/// configs can be checked without LibTorch.
///
///   auto options = layerwatch::MonitorOptions()
///                      .metric(layerwatch::similarity::Metric::kCka)
///                      .probe_every_n_steps(200)
///                      .log_dir("runs/resnet");
///   auto from_file = layerwatch::load_monitor_options("configs/default.json");

#include <cstddef>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "layerwatch/analysis/analyzer.h"
#include "layerwatch/core/options.h"
#include "layerwatch/freeze/freeze_policy.h"
#include "layerwatch/similarity/conv_layout.h"
#include "layerwatch/similarity/metric.h"

namespace layerwatch {

/// Options of `Monitor`. JSON keys have the same names (memory budget in MiB:
/// `memory_budget_mib`). Validated by `validate()`, which the Monitor calls.
struct MonitorOptions {
  /// Similarity metric of the convergence signal. Default SVCCA. JSON: "svcca", "cca", "pwcca",
  /// "cka", "cka-debiased", "cka-rbf", "procrustes".
  LAYERWATCH_ARG(similarity::Metric, metric) = similarity::Metric::kSvcca;
  /// Online reference: previous (default) or first. JSON "previous" | "first".
  LAYERWATCH_ARG(Reference, reference) = Reference::kPrevious;
  /// For `previous`: compare with the snapshot this many probe passes earlier. Default 1, ≥ 1.
  LAYERWATCH_ARG(int64_t, reference_lag) = 1;
  /// At `finish()`, compare every stored snapshot with its layer's last one. Default true.
  LAYERWATCH_ARG(bool, final_pass) = true;
  /// Run a probe pass every this many `step()` calls counted from the start of each epoch, so
  /// every epoch is probed at the same points; 0 = never (default). Choose a divisor of the
  /// epoch length to keep the probes evenly spaced (the epoch-end probe follows the last one).
  /// Never two probe passes at the same step: an epoch-end probe that falls on a step probe is
  /// the same snapshot and is not repeated.
  LAYERWATCH_ARG(int64_t, probe_every_n_steps) = 0;
  /// Probe passes per epoch, evenly spaced, the last at `end_epoch()` (2: one in the middle of
  /// each epoch and one at its end). Default 1, range [1, 1000]. The spacing needs the epoch's
  /// length: `steps_per_epoch`, or else the length of the previous epoch, so without
  /// `steps_per_epoch` the first epoch is probed only at its end. Finer curves; note that the
  /// `previous` reference is then that much closer, so values are higher and an adaptive
  /// freeze threshold tuned on whole epochs fires earlier (docs/freeze.md).
  LAYERWATCH_ARG(int64_t, probes_per_epoch) = 1;
  /// Steps (`step()` calls) per epoch, for `probes_per_epoch`; 0 (default) = learn it from the
  /// previous epoch.
  LAYERWATCH_ARG(int64_t, steps_per_epoch) = 0;
  /// Run a probe pass at every `end_epoch()`. Default true.
  LAYERWATCH_ARG(bool, probe_each_epoch) = true;
  /// Run a probe pass at the first `step()`, before training has moved the weights far
  /// (epoch 0). Default true.
  LAYERWATCH_ARG(bool, probe_at_start) = true;
  /// Examples per forward call of a probe pass (bounds its memory). Default 256, range ≥ 1.
  LAYERWATCH_ARG(int64_t, probe_batch_size) = 256;
  /// Most rows (samples) kept per layer snapshot; conv positions are subsampled
  /// deterministically to it. Default 8192, range ≥ 16.
  LAYERWATCH_ARG(int64_t, sample_cap) = 8192;
  /// Layout of 4-D conv outputs: spatial (N·H·W, C; default), flatten, pool.
  LAYERWATCH_ARG(similarity::ConvLayout, conv_layout) = similarity::ConvLayout::kSpatial;
  /// Seed of the deterministic spatial subsampling. Default 0.
  LAYERWATCH_ARG(uint64_t, seed) = 0;
  /// Store snapshots as float16 (half the memory; values rounded to ~3 digits). Default false.
  LAYERWATCH_ARG(bool, store_float16) = false;
  /// Snapshots kept per layer (ring capacity). Default 64, range [2, 100000].
  LAYERWATCH_ARG(int64_t, history) = 64;
  /// Global budget of snapshot data in bytes, never exceeded. Default 256 MiB, ≥ 1 MiB.
  LAYERWATCH_ARG(std::size_t, memory_budget) = std::size_t{256} << 20;
  /// At `finish()`, also compare every layer's snapshots with every other layer's final one
  /// (layers × layers matrix; use conv_layout flatten or pool so conv rows correspond).
  /// Default false.
  LAYERWATCH_ARG(bool, layer_matrix) = false;
  /// Analyzer worker threads. Default 1, range [1, 64].
  LAYERWATCH_ARG(int64_t, threads) = 1;
  /// When analysis falls behind: skip_to_newest (default) or drop_newest.
  LAYERWATCH_ARG(QueuePolicy, queue_policy) = QueuePolicy::kSkipToNewest;
  /// Most comparisons waiting at once. Default 256, range ≥ 1.
  LAYERWATCH_ARG(int64_t, queue_capacity) = 256;
  /// Precision of the analyzer's products: float64 (default) or float32.
  LAYERWATCH_ARG(similarity::Precision, precision) = similarity::Precision::kFloat64;
  /// SVCCA: fraction of singular-value mass kept. Default 0.99, range (0, 1].
  LAYERWATCH_ARG(double, svcca_keep) = 0.99;
  /// RBF CKA: bandwidth threshold. Default 1.0, range > 0.
  LAYERWATCH_ARG(double, rbf_threshold) = 1.0;
  /// Directory of the log files. Default "layerwatch_logs".
  LAYERWATCH_ARG(std::string, log_dir) = "layerwatch_logs";
  /// Sinks by spec: "console", "jsonl", "jsonl:PATH", "csv", "csv:PATH", "tb", "tb:DIR" (see
  /// `make_sink`). Default all four kinds, in `log_dir`: console, jsonl, csv and tb.
  LAYERWATCH_ARG(std::vector<std::string>, sinks) = std::vector<std::string>{"console", "jsonl",
                                                                             "csv", "tb"};
  /// At `finish()`, write `<log_dir>/report.html` (see `report/html_report.h`) from the
  /// `jsonl` sink's files; needs the bare "jsonl" sink. Default true.
  LAYERWATCH_ARG(bool, report) = true;
  /// Freeze training: policy and its knobs (JSON: the "freeze" object). Default policy none.
  LAYERWATCH_ARG(FreezeOptions, freeze) = {};

 public:
  /// Throws `std::invalid_argument` naming the first field out of range and its allowed range.
  void validate() const;
  /// The analyzer's share of these options.
  AnalyzerOptions analyzer_options() const;
};

/// A config file or JSON object that cannot be used; the message names the file, the key and
/// the allowed values.
class ConfigError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// Every key `monitor_options_from_json` accepts.
const std::vector<std::string>& monitor_option_keys();

/// Applies the keys of `config` (a JSON object) on top of `base`. Unknown keys, wrong types
/// and out-of-range values throw `ConfigError`.
MonitorOptions monitor_options_from_json(const nlohmann::json& config,
                                         MonitorOptions base = MonitorOptions());

/// Reads a JSON config file (see `configs/default.json`). Throws `ConfigError` for a missing
/// or malformed file, naming it.
MonitorOptions load_monitor_options(const std::string& path,
                                    MonitorOptions base = MonitorOptions());

}  // namespace layerwatch
