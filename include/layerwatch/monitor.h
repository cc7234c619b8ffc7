#pragma once
/// @file
/// `layerwatch::Monitor`: the facade a training loop uses. Construct it with the model and a
/// fixed probe set, watch some layers, and call `step()`, `end_epoch()` and `finish()`:
///
///   layerwatch::Monitor monitor(model, probe_images,
///   layerwatch::MonitorOptions().log_dir("runs/a")); monitor.watch(model->features); // or Tap
///   modules / layerwatch::tap() for (int epoch = 0; epoch < epochs; ++epoch) {
///     for (auto& batch : *loader) { /* forward, backward, optimizer.step() */ monitor.step(); }
///     monitor.end_epoch();                        // probe pass + per-epoch summary
///   }
///   monitor.finish();                             // learning-dynamics records, logs closed
///
/// A probe pass runs the probe set through the model in eval mode under `NoGradGuard`, in
/// chunks of `probe_batch_size`, and restores every module's train/eval mode afterwards
/// (BatchNorm running statistics are untouched: eval mode does not update them). The captured
/// outputs go to the background analyzer; the training thread never waits for analysis.
/// Nothing the monitor does throws into the training loop after construction: problems become
/// records with an error status, events in the logs and messages on stderr.

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "layerwatch/analysis/analyzer.h"
#include "layerwatch/capture/capture.h"
#include "layerwatch/freeze/freeze_controller.h"
#include "layerwatch/freeze/freeze_policy.h"
#include "layerwatch/monitor_options.h"
#include "layerwatch/sinks/sink.h"

namespace layerwatch {

/// Counters of a Monitor.
struct MonitorStats {
  int64_t steps = 0;         ///< `step()` calls.
  int64_t epochs = 0;        ///< `end_epoch()` calls.
  int64_t probe_passes = 0;  ///< Probe passes run.
  double probe_seconds = 0;  ///< Training-thread time spent in probe passes.
  /// Training-thread time spent waiting for the analyzer's freeze decisions
  /// (`FreezeOptions::wait_for_decisions`); 0 without a freeze policy.
  double decision_wait_seconds = 0;
  int64_t capture_errors = 0;  ///< Layers that could not be captured (summed over passes).
  std::map<std::string, int64_t> frozen;  ///< Frozen layers and the epoch they were frozen at.
  AnalyzerStats analyzer;                 ///< The analyzer's and the store's counters.
};

/// Watches the layers of one model while it trains. See the file comment.
class Monitor {
 public:
  /// Runs the probe set through the model: `forward(chunk)` is called for each chunk of the
  /// probe inputs; its result is ignored (capture points record what they see).
  using ProbeForward = std::function<void(const torch::Tensor& chunk)>;

  /// `model`: the module whose train/eval mode the probe pass saves and restores.
  /// `probe_inputs`: the fixed probe set, first dimension = examples, on the model's device.
  /// Throws `std::invalid_argument` for invalid options (naming the field). An empty or
  /// undefined probe set is not an exception: the monitor reports it and never probes.
  /// When OpenBLAS and LibTorch both run several threads, it notes (stderr and the event log)
  /// that their pools compete and how to give BLAS one thread (`set_blas_threads`).
  Monitor(std::shared_ptr<torch::nn::Module> model, torch::Tensor probe_inputs,
          ProbeForward forward, MonitorOptions options = {},
          std::vector<std::shared_ptr<Sink>> extra_sinks = {});

  /// Convenience for models whose `forward` takes one tensor.
  template <typename ModuleType>
  Monitor(const torch::nn::ModuleHolder<ModuleType>& model, torch::Tensor probe_inputs,
          MonitorOptions options = {}, std::vector<std::shared_ptr<Sink>> extra_sinks = {})
      : Monitor(
            model.ptr(), std::move(probe_inputs),
            [impl = model.ptr()](const torch::Tensor& chunk) { impl->forward(chunk); },
            std::move(options), std::move(extra_sinks)) {}

  /// Stops the analyzer cleanly (the job in progress completes). Call `finish()` first to
  /// keep every record.
  ~Monitor();
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  /// Instruments a Sequential of the model (see capture.h); capture points are named by the
  /// Sequential's dotted name in the model ("features.0", …). Returns the removal handle.
  CaptureHandle watch(torch::nn::Sequential& sequential, WatchOptions options = {});
  /// A handle that stops this monitor from recording the explicit `tap(name, …)` calls and
  /// `Tap` modules of that name.
  CaptureHandle capture_handle(const std::string& name);

  /// Freeze training: the optimizer whose param groups and state frozen parameters leave.
  /// Required when `options().freeze().policy()` is not none; it must outlive the monitor.
  void attach_optimizer(torch::optim::Optimizer& optimizer);
  /// Makes a layer captured by a `Tap` or `tap()` freezable: `module` is what freezing it
  /// freezes. Layers from `watch()` are freezable already. Call in forward order, before
  /// training. Calling it again with the same name adds `module` to that unit (a stem whose
  /// conv and BatchNorm sit directly on the model): the unit freezes as one and counts once.
  /// Throws `std::invalid_argument` for a null module.
  void add_freeze_target(const std::string& name, std::shared_ptr<torch::nn::Module> module);
  /// Sets the model's training mode like `model->train(on)`, and keeps the BatchNorm modules
  /// of frozen layers in eval mode. Call it instead of `model->train()` once layers may be
  /// frozen: `model->train()` switches every module, and a frozen BatchNorm in training mode
  /// normalises with batch statistics. The monitor notices that at the next `step()`, restores
  /// the statistics, puts the module back in eval mode and says so once.
  void train(bool on = true);
  /// Names of the frozen layers, in the order they were frozen.
  std::vector<std::string> frozen_layers() const;

  /// Call after every optimizer step. Runs a probe pass when one is due.
  void step();
  /// Call at the end of every epoch: probe pass (if `probe_each_epoch`), then the sinks'
  /// per-epoch summary once the analyzer has caught up with it.
  void end_epoch();
  /// Runs a probe pass now.
  void probe();
  /// Waits until the analyzer has processed everything queued so far.
  void flush();
  /// Final-reference pass, then closes the logs and writes `<log_dir>/report.html` (option
  /// `report`). Idempotent.
  void finish();

  MonitorStats stats() const;
  const MonitorOptions& options() const { return options_; }
  /// The analyzer (its store holds the snapshots).
  Analyzer& analyzer() { return *analyzer_; }
  /// False when the probe set was unusable (the reason went to the logs and stderr).
  bool probing() const { return probing_; }

 private:
  void report(MonitorEvent::Kind kind, const std::string& message, const std::string& layer = "");
  void probe_failed(const std::string& what, std::chrono::steady_clock::time_point start);
  // Frozen BatchNorm found in training mode: statistics restored, eval again, said once.
  void keep_frozen_batchnorm_in_eval();
  void apply_freeze_decisions();
  // True when step `in_epoch` (counted from the epoch's start) is one of the evenly spaced
  // probes of `probes_per_epoch` before the epoch's end.
  bool within_epoch_probe_due(int64_t in_epoch) const;
  // With freeze.wait_for_decisions: lets the analyzer catch up, then applies its decisions.
  void wait_for_freeze_decisions();
  // The HTML report from the jsonl log, at finish(); failures are printed, never thrown.
  void write_report_file();
  // Tells the policy the freezable layers, in forward order (watch order).
  void publish_freeze_order();

  struct FreezeTarget {
    std::string name;
    std::vector<std::shared_ptr<torch::nn::Module>> modules;
    torch::nn::Sequential sequential{nullptr};  // the watched Sequential, if any
  };

  std::shared_ptr<torch::nn::Module> model_;
  torch::Tensor probe_inputs_;
  ProbeForward forward_;
  MonitorOptions options_;
  std::unique_ptr<Analyzer> analyzer_;
  std::shared_ptr<std::set<std::string>> disabled_;
  std::shared_ptr<FreezePolicy> freeze_policy_;
  std::unique_ptr<FreezeController> freeze_controller_;
  std::vector<FreezeTarget> freeze_targets_;
  std::map<std::string, int64_t> frozen_epochs_;
  bool reported_missing_optimizer_ = false;
  bool reported_frozen_batchnorm_ = false;
  bool probing_ = true;
  bool finished_ = false;
  int64_t steps_ = 0, epochs_ = 0, probe_passes_ = 0, capture_errors_ = 0;
  int64_t epoch_start_step_ = 0;      // steps_ when the current epoch began
  int64_t previous_epoch_steps_ = 0;  // length of the last completed epoch (0: none yet)
  int64_t last_probe_step_ = -1;      // steps_ at the last probe pass (−1: none yet)
  double probe_seconds_ = 0;
  double decision_wait_seconds_ = 0;
};

}  // namespace layerwatch
