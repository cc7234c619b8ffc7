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
/// records with an error status, events in the logs and messages on stderr. (`save` and `load`,
/// called by the user at a checkpoint, throw `CheckpointError` like `torch::save` would.)
///
/// Checkpoint and resume: `save` writes the monitor's whole state (counters, the probe
/// schedule's position, the stored snapshots the references and the final pass need, the
/// freeze policy's streaks and pending decisions, the frozen set, where each log file stands),
/// on its own or inside the archive that holds the model and the optimizer. To resume, build
/// the model, the optimizer and the monitor as at the start, then in this order:
///
/// @code
///   monitor.watch(model->features);      // the same capture points and freeze targets
///   monitor.attach_optimizer(optimizer);
///   torch::serialize::InputArchive archive, model_archive, optimizer_archive;
///   archive.load_from("checkpoint.pt");  // written with model->save, optimizer.save and
///                                        // monitor.save(archive) into one archive
///   archive.read("model", model_archive);
///   model->load(model_archive);          // 1. the model's weights
///   monitor.load(archive);               // 2. the monitor: re-freezes the frozen set, taking
///                                        //    its parameters out of the optimizer again
///   archive.read("optimizer", optimizer_archive);
///   optimizer.load(optimizer_archive);   // 3. the optimizer: its param groups now match the
///                                        //    saved ones (a fresh optimizer's would not)
/// @endcode
///
/// The logs continue: each file is cut back to its size at the checkpoint (records a run that
/// died later wrote after it go), then appended to; TensorBoard gets a new event file.

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>
#include <torch/optim/optimizer.h>
#include <torch/serialize/archive.h>
#include <torch/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "layerwatch/analysis/analyzer.h"
#include "layerwatch/freeze/freeze.h"
#include "layerwatch/io/checkpoint.h"
#include "layerwatch/monitor_options.h"
#include "layerwatch/sinks/sink.h"
#include "layerwatch/torch/capture.h"
#include "layerwatch/torch/distributed.h"
#include "layerwatch/torch/frozen_prefix_cache.h"

namespace layerwatch {

/// Counters of a Monitor.
struct MonitorStats {
  int64_t steps = 0;         ///< `step()` calls.
  int64_t epochs = 0;        ///< `end_epoch()` calls.
  int64_t probe_passes = 0;  ///< Probe passes run.
  double probe_seconds = 0;  ///< Training-thread time spent in probe passes.
  /// The part of `probe_seconds` spent handing the activations to the ranks that analyse
  /// them (after `distribute`; 0 in a single process).
  double probe_exchange_seconds = 0;
  /// Training-thread time spent waiting for the analyzer's freeze decisions
  /// (`FreezeOptions::wait_for_decisions`); 0 without a freeze policy.
  double decision_wait_seconds = 0;
  int64_t capture_errors = 0;  ///< Layers that could not be captured (summed over passes).
  /// The frozen layers in the order they froze, each with its step, epoch, and what freezing
  /// it touched (parameters, entries removed from the optimizer, optimizer states erased).
  std::vector<FrozenLayer> frozen;
  /// Units decided on and cooling down before their freeze (`FreezeOptions::cooldown_epochs`),
  /// in the order they will freeze.
  std::vector<std::string> cooling;
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
  /// The model's freeze units in forward order as a chain: each unit's output is the next
  /// one's input, and the model's forward is their composition (`FrozenPrefixCache::units_of`
  /// gives them for Sequentials). The `drift` freeze policy runs them on the inputs they had
  /// at the previous probe pass; other policies do not need them.
  void set_unit_chain(std::vector<FrozenPrefixCache::Unit> units);
  /// The training's learning-rate schedule: `rate(step)` is the rate of optimizer step `step`
  /// (0-based) and `total_steps` the planned number of steps. The `forecast` freeze policy
  /// sums it over the steps still to come; other policies do not need it. Throws
  /// `std::invalid_argument` for an empty function or `total_steps` < 1.
  void set_learning_rate_schedule(std::function<double(int64_t step)> rate, int64_t total_steps);
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
  /// The class of every probe example (a 1-D integer tensor, one entry per example), for the
  /// linear probes of `analysis.probing.linear_probe`. Also builds their control task from
  /// the probe inputs (clusters of the inputs, each labelled at random). Call before training,
  /// and again before `load()` when resuming. Throws `std::invalid_argument` naming the shape or
  /// dtype when the labels do not fit the probe set.
  void set_probe_labels(const torch::Tensor& labels);
  /// Runs a probe pass now.
  void probe();
  /// Waits until the analyzer has processed everything queued so far.
  void flush();
  /// Final-reference pass, then closes the logs and writes `<log_dir>/report.html` (option
  /// `report`). Idempotent.
  void finish();

  /// Saves the monitor's state to `path` (see the file comment), atomically: the file is either
  /// the previous checkpoint or the complete new one, also after a crash or a full disk. Waits
  /// for the analyzer first. Throws `CheckpointError` naming the file and the error; the
  /// monitor and training go on unharmed.
  ///
  /// After `distribute()` it is a collective: every rank calls it at the same point; every
  /// rank's part (its layers' snapshots) goes to rank 0, which alone writes the file (or fills
  /// its archive; the other ranks' archives get nothing). Every rank then resumes from that one
  /// file with `load`, after its own `distribute()`.
  void save(const std::string& path);
  /// The same state inside `archive` (key `kArchiveKey`), beside the model's and optimizer's.
  void save(torch::serialize::OutputArchive& archive);
  /// Resumes from a checkpoint `save` wrote. Call after `watch()`, `add_freeze_target()` and
  /// `attach_optimizer()`, after loading the model's weights and before loading the optimizer's
  /// state and before the first `step()` (see the file comment). Throws `CheckpointError`,
  /// changing nothing, when the file is missing, truncated or corrupt, or was saved by a
  /// monitor of other layers (names or shapes), naming the file and what differs. After
  /// `distribute()` a collective: each rank takes its part of the checkpoint rank 0 saved (with
  /// as many ranks), and every rank throws when one rank cannot, naming it.
  void load(const std::string& path);
  /// Resumes from the state `save(archive)` put in `archive`.
  void load(torch::serialize::InputArchive& archive);
  /// The key of the monitor's state in a `torch::serialize` archive.
  static constexpr const char* kArchiveKey = "layerwatch_monitor";

  /// Data-parallel training (see distributed.h): from now on the monitor works with the
  /// other ranks of `group`. Call it on every rank, after `watch()`, `add_freeze_target()` and
  /// `attach_optimizer()` and before the first `step()`. It checks that every rank watches the
  /// same layers with the same options, parameter shapes and probe set (otherwise every rank
  /// throws `DistributedError` naming what differs), copies rank 0's weights to every rank
  /// (`DistributedOptions::broadcast_initial_weights`), and leaves the logs to rank 0. From
  /// then on `step()`, `end_epoch()`, `probe()` and `finish()` are collectives: every rank calls
  /// them at the same points. They throw `DistributedError` when a rank dies or stops
  /// answering, after logging it. Throws `std::logic_error` when called twice or after the
  /// analyzer started.
  void distribute(const c10::intrusive_ptr<c10d::ProcessGroup>& group,
                  DistributedOptions options = {});
  /// Averages the gradients of the parameters that still train over the ranks, in buckets of
  /// `DistributedOptions::bucket_bytes`, in the same order on every rank; frozen layers leave
  /// it. Then copies rank 0's buffers to every rank (`broadcast_buffers`). Call it between
  /// `backward()` and `optimizer.step()`. Does nothing in a single process.
  void all_reduce_gradients();
  /// The parameters that still train (what `all_reduce_gradients` reduces), in the model's
  /// order, for a loop that reduces gradients itself. Call it again after every freeze.
  std::vector<torch::Tensor> parameters_to_reduce() const;
  /// True on every rank when `flag` is true on any rank: for a stop (Ctrl-C, a time limit)
  /// that every rank must take at the same step. A collective; returns `flag` in a single
  /// process.
  bool any_rank(bool flag);
  /// This process's rank (0 without `distribute`).
  int rank() const;
  /// The number of ranks (1 without `distribute`).
  int world_size() const;

  MonitorStats stats() const;
  const MonitorOptions& options() const;
  /// The analyzer (its store holds the snapshots). Starts it, opening the sinks, if no step or
  /// probe has yet.
  Analyzer& analyzer();
  /// False when the probe set was unusable (the reason went to the logs and stderr).
  bool probing() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace layerwatch
