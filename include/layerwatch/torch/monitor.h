#pragma once
/// @file
/// `layerwatch::Monitor`: the facade a training loop uses. Construct it with the model and a
/// fixed probe set, watch some layers, and call `step()`, `end_epoch()` and `finish()`:
///
/// @code
///   layerwatch::Monitor monitor(model, probe_images,
///                               layerwatch::MonitorOptions().log_dir("runs/a"));
///   monitor.watch(model->features);  // or Tap modules, or layerwatch::tap() in forward
///   for (int epoch = 0; epoch < epochs; ++epoch) {
///     monitor.train();                // model->train(), keeping frozen layers in eval
///     for (auto& batch : *loader) { /* forward, backward, optimizer.step() */ monitor.step(); }
///     monitor.end_epoch();            // probe pass + per-epoch summary
///   }
///   monitor.finish();                 // learning-dynamics records, logs closed
/// @endcode
///
/// A probe pass runs the probe set through the model in eval mode under `NoGradGuard`, in
/// chunks of `probe.batch_size`, and restores every module's train/eval mode afterwards
/// (BatchNorm running statistics are untouched: eval mode does not update them). The captured
/// outputs go to the background analyzer; the training thread never waits for analysis.
/// Nothing the monitor does throws into the training loop after construction: problems become
/// records with an error status, events in the logs and messages on stderr.

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>
#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "layerwatch/analysis/analyzer.h"
#include "layerwatch/freeze/freeze.h"
#include "layerwatch/monitor_options.h"
#include "layerwatch/sinks/sink.h"
#include "layerwatch/torch/capture.h"

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
  /// The frozen layers in the order they froze, each with its step, epoch, and what freezing
  /// it touched (parameters, entries removed from the optimizer, optimizer states erased).
  std::vector<FrozenLayer> frozen;
  AnalyzerStats analyzer;  ///< The analyzer's and the store's counters.
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
  /// Call at the end of every epoch: probe pass (if `probe.each_epoch`), then the sinks'
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
  const MonitorOptions& options() const;
  /// The analyzer (its store holds the snapshots).
  Analyzer& analyzer();
  /// False when the probe set was unusable (the reason went to the logs and stderr).
  bool probing() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace layerwatch
