#pragma once
/// @file
/// `MonitorOptions`: every knob of `layerwatch::Monitor`, with chained setters and a JSON
/// config form (`configs/default.json` lists every key with its default). Torch-free, so
/// configs can be checked without LibTorch. The options nest: `probe` (when and what the probe
/// pass records), `analysis` (the analyzer, its metric and its snapshot store) and `freeze`
/// (the freeze policy); in JSON each is an object of the same name.
///
/// @code
///   auto options = layerwatch::MonitorOptions().log_dir("runs/resnet");
///   options.analysis().metric(layerwatch::similarity::Metric::kCka);
///   options.probe().every_n_steps(200);
///   auto from_file = layerwatch::load_monitor_options("configs/default.json");
/// @endcode

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "layerwatch/analysis/analyzer.h"
#include "layerwatch/core/option.h"
#include "layerwatch/freeze/freeze.h"
#include "layerwatch/similarity/conv_layout.h"

namespace layerwatch {

/// When the monitor runs a probe pass and how it turns layer outputs into snapshot rows
/// (JSON: the "probe" object).
struct ProbeOptions {
  LAYERWATCH_OPTIONS(ProbeOptions);
  /// Run a probe pass every this many `step()` calls counted from the start of each epoch, so
  /// every epoch is probed at the same points; 0 = never (default), range [0, 2^40]. Choose a
  /// divisor of the epoch length to keep the probes evenly spaced (the epoch-end probe follows
  /// the last one). Never two probe passes at the same step: an epoch-end probe that falls on
  /// a step probe is the same snapshot and is not repeated.
  LAYERWATCH_OPTION(int64_t, every_n_steps, range(0, int64_t{1} << 40)) = 0;
  /// Probe passes per epoch, evenly spaced, the last at `end_epoch()` (2: one in the middle of
  /// each epoch and one at its end). Default 1, range [1, 1000]. The spacing needs the epoch's
  /// length: `steps_per_epoch`, or else the length of the previous epoch, so without
  /// `steps_per_epoch` the first epoch is probed only at its end. Finer curves; note that the
  /// `previous` reference is then that much closer, so values are higher and an adaptive
  /// freeze threshold tuned on whole epochs fires earlier (docs/freeze.md).
  LAYERWATCH_OPTION(int64_t, per_epoch, range(1, 1000)) = 1;
  /// Steps (`step()` calls) per epoch, for `per_epoch`; 0 (default) = learn it from the
  /// previous epoch. Range [0, 2^40].
  LAYERWATCH_OPTION(int64_t, steps_per_epoch, range(0, int64_t{1} << 40)) = 0;
  /// Run a probe pass at every `end_epoch()`. Default true.
  LAYERWATCH_OPTION(bool, each_epoch, AnyValue{}) = true;
  /// Run a probe pass at the first `step()`, before training has moved the weights far
  /// (epoch 0). Default true.
  LAYERWATCH_OPTION(bool, at_start, AnyValue{}) = true;
  /// Examples per forward call of a probe pass (bounds its memory). Default 256, range
  /// [1, 2^20].
  LAYERWATCH_OPTION(int64_t, batch_size, range(1, 1 << 20)) = 256;
  /// Most rows (samples) kept per layer snapshot; conv positions are subsampled
  /// deterministically to it. Default 8192, range [16, 2^26].
  LAYERWATCH_OPTION(int64_t, sample_cap, range(16, 1 << 26)) = 8192;
  /// Layout of 4-D conv outputs: "spatial" (N·H·W, C; default), "flatten" (N, C·H·W) or "pool"
  /// (N, C after global average pooling).
  LAYERWATCH_OPTION(similarity::ConvLayout, conv_layout,
                    one_of(similarity::all_conv_layouts())) = similarity::ConvLayout::kSpatial;
  /// Seed of the deterministic row subsampling. Default 0.
  LAYERWATCH_OPTION(uint64_t, seed, AnyValue{}) = 0;
  LAYERWATCH_OPTIONS_END();
};

/// Options of `Monitor`. JSON keys have the same names; nested options are objects. Checked by
/// `validate()`, which the Monitor calls.
struct MonitorOptions {
  LAYERWATCH_OPTIONS(MonitorOptions);
  /// Directory of the log files. Default "layerwatch_logs", not empty.
  LAYERWATCH_OPTION(std::string, log_dir, NonEmpty{}) = "layerwatch_logs";
  /// Sinks by spec: "console", "jsonl", "jsonl:PATH", "csv", "csv:PATH", "tb", "tb:DIR" (see
  /// `make_sink`). Default all four kinds, in `log_dir`: console, jsonl, csv and tb.
  LAYERWATCH_OPTION(std::vector<std::string>, sinks,
                    checked(&sink_specs_problem,
                            "a list of console, jsonl[:PATH], csv[:PATH], "
                            "tb[:DIR]")) = {"console", "jsonl", "csv", "tb"};
  /// At `finish()`, write `<log_dir>/report.html` (see `report/html_report.h`) from the
  /// `jsonl` sink's files; needs the bare "jsonl" sink. Default true.
  LAYERWATCH_OPTION(bool, report, AnyValue{}) = true;
  /// Put LibTorch's CPU tensors of 2 MiB and more on transparent huge pages and reuse their
  /// memory (`use_huge_page_allocator()`, torch/huge_page_allocator.h), from when the Monitor is
  /// built. It changes how the whole process allocates tensors, so it is the user's choice.
  /// Default false.
  LAYERWATCH_OPTION(bool, huge_pages, AnyValue{}) = false;
  /// The probe pass: when, in what chunks, how many rows.
  LAYERWATCH_OPTION(ProbeOptions, probe, AnyValue{}) = {};
  /// The analysis: metric, reference, threads, queue, snapshot store and memory budget.
  LAYERWATCH_OPTION(AnalyzerOptions, analysis, AnyValue{}) = {};
  /// Freeze training: policy and its knobs. Default policy none.
  LAYERWATCH_OPTION(FreezeOptions, freeze, AnyValue{}) = {};
  LAYERWATCH_OPTIONS_END();

 public:
  /// Throws `std::invalid_argument` naming the first option out of range, its allowed values
  /// and its value (`validate_options`).
  void validate() const;
  /// The adaptive freeze policy needs the `previous` reference. Called by `validate()`.
  void check_relations() const;

 private:
  static std::string sink_specs_problem(const std::vector<std::string>& specs);
};

/// A config file or JSON object that cannot be used; the message names the file, the key and
/// the allowed values.
class ConfigError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// Every key `monitor_options_from_json` accepts, nested ones dotted ("analysis.threads").
std::vector<std::string> monitor_option_keys();

/// Applies the keys of `config` (a JSON object) on top of `base`. Unknown keys, wrong types
/// and out-of-range values throw `ConfigError` naming the key.
MonitorOptions monitor_options_from_json(const nlohmann::json& config,
                                         MonitorOptions base = MonitorOptions());

/// Every option of `options` as a JSON object, in the form `monitor_options_from_json` reads.
nlohmann::json to_json(const MonitorOptions& options);

/// Parses a JSON config's text; `source` names it in messages (e.g. the file's path in quotes).
/// Throws `ConfigError` for malformed JSON, unknown keys, wrong types and values out of range.
MonitorOptions parse_monitor_options(const std::string& text, const std::string& source,
                                     MonitorOptions base = MonitorOptions());

/// Reads a JSON config file (see `configs/default.json`). Throws `ConfigError` for a missing
/// or malformed file, naming it.
MonitorOptions load_monitor_options(const std::string& path,
                                    MonitorOptions base = MonitorOptions());

}  // namespace layerwatch
