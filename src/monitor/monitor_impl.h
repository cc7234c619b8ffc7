#pragma once
// Monitor's implementation, shared by monitor.cpp (the training-loop calls) and
// monitor_checkpoint.cpp (save and load).

#include <torch/torch.h>

#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "capture/probe_capture.h"
#include "freeze/freeze_controller.h"
#include "freeze/freeze_policy.h"
#include "layerwatch/io/checkpoint.h"
#include "layerwatch/torch/monitor.h"

namespace layerwatch {

struct DistributedState;  // monitor/distributed_state.h

class Monitor::Impl {
 public:
  Impl(std::shared_ptr<torch::nn::Module> model, torch::Tensor probe_inputs, ProbeForward forward,
       MonitorOptions options, std::vector<std::shared_ptr<Sink>> extra_sinks);
  // Says on stderr what was never said because the monitor never started.
  ~Impl();

  CaptureHandle watch(torch::nn::Sequential& sequential, WatchOptions options);
  CaptureHandle capture_handle(const std::string& name);
  void attach_optimizer(torch::optim::Optimizer& optimizer);
  void set_unit_chain(std::vector<FrozenPrefixCache::Unit> units);
  void set_learning_rate_schedule(std::function<double(int64_t)> rate, int64_t total_steps);
  void add_freeze_target(const std::string& name, std::shared_ptr<torch::nn::Module> module);
  void train(bool on);
  std::vector<std::string> frozen_layers() const;
  void step();
  void end_epoch();
  void probe();
  // Checks the labels, builds the control task's inputs, and hands both to the analyzer (now,
  // or when it starts).
  void set_probe_labels(const torch::Tensor& labels);
  void flush();
  void finish();
  MonitorStats stats() const;
  // The analyzer, started (its sinks opened) at the first use, so that load() can come first.
  Analyzer& analyzer();
  // The checkpoint's bytes (monitor_checkpoint.cpp); save() drains the analyzer first. Across
  // ranks a collective: rank 0 gets every rank's part, the others an empty string.
  std::string save_bytes();
  // This process's own part: counters, frozen set, the analyzer's state and snapshots.
  std::string rank_checkpoint();
  // Resumes from what `read` returns (it throws CheckpointError when it cannot read). Across
  // ranks a collective: each rank takes its part, and every rank throws when one cannot.
  void load_checkpoint(const std::function<std::string()>& read, const std::string& source);
  // Resumes from checkpoint bytes; `source` names them in messages. Throws CheckpointError.
  void load_bytes(std::string_view bytes, const std::string& source);

  // Data-parallel training (monitor_distributed.cpp).
  void distribute(const c10::intrusive_ptr<c10d::ProcessGroup>& group, DistributedOptions options);
  void all_reduce_gradients();
  std::vector<torch::Tensor> parameters_to_reduce() const;
  bool any_rank(bool flag);
  int rank() const;
  int world_size() const;
  // Runs `call`; a DistributedError from it is logged and the logs flushed before it goes on.
  void among_ranks(const std::function<void()>& call);

  MonitorOptions options_;
  bool probing_ = true;

 private:
  // Opens the sinks and starts the analyzer (continuing from `resume`, if given).
  void start(const CheckpointContents* resume = nullptr);
  // The checkpoint's description of the freezable units (names, tensor shapes), and the
  // problem when `saved` does not describe this monitor's (empty when it does).
  nlohmann::json describe_units() const;
  std::string units_mismatch(const nlohmann::json& saved) const;
  // CRC-32C of a unit's parameters and buffers: a frozen unit's must not change.
  uint32_t unit_checksum(const std::string& name);
  void report(MonitorEvent::Kind kind, const std::string& message, const std::string& layer = "");
  void probe_failed(const std::string& what, std::chrono::steady_clock::time_point start);
  // The drift and forecast policies' signal at this probe pass (FreezeOptions), handed to the
  // policy.
  void measure_drift();
  bool measures_drift() const;
  // The learning rate summed over the steps still to come (set_learning_rate_schedule).
  double learning_rate_to_come() const;
  // Frozen BatchNorm found in training mode: statistics restored, eval again, said once.
  void keep_frozen_batchnorm_in_eval();
  void apply_freeze_decisions();
  // True when step `in_epoch` (counted from the epoch's start) is one of the evenly spaced
  // probes of `probe.per_epoch` before the epoch's end.
  bool within_epoch_probe_due(int64_t in_epoch) const;
  // With freeze.wait_for_decisions: lets the analyzer catch up, then applies its decisions.
  void wait_for_freeze_decisions();
  // The HTML report from the jsonl log, at finish(); failures are printed, never thrown.
  void write_report_file();
  // Tells the policy the freezable layers, in forward order (watch order).
  void publish_freeze_order();

  // True where the logs are written: a single process, or rank 0.
  bool speaks() const;
  // What must be alike on every rank (watched layers, options, parameter shapes, probe set).
  nlohmann::json rank_description() const;
  // Compares rank_description() hashes across the ranks; throws DistributedError naming what
  // differs.
  void check_ranks_agree();
  // Chunks [first, last) of the probe set's `chunks` that rank `r` runs.
  std::pair<int64_t, int64_t> probe_chunks(int64_t chunks, int r) const;
  // Gives each layer not yet assigned (name, analysis cost) to the least loaded rank.
  void assign_owners(const std::vector<std::pair<std::string, double>>& costs);
  // One rank's part of a probe pass to the ranks that analyse each layer; false when a rank's
  // forward failed and the pass is skipped everywhere.
  bool share_probe_pass(detail::ProbeCapture::Result result, const std::string& pass_error,
                        int64_t chunks_here);
  // Records to rank 0 (waiting for this rank's analysis when `wait`), rank 0's epoch end, and
  // rank 0's freeze decisions applied on every rank.
  void sync_ranks(bool wait, bool epoch_end);
  // finish() across the ranks: the final pass of every rank's layers reaches rank 0's logs.
  void finish_ranks();
  void distributed_failure(const std::string& message);
  void apply_decisions(const std::vector<FreezeDecision>& decisions);
  // Steps in a cool-down (FreezeOptions::cooldown_epochs): the last complete epoch's length
  // times the option, at least 1.
  int64_t cooldown_steps() const;
  // Starts cooling a decided unit down from this step on (`length` steps); `announce` says so.
  void start_cooling(const FreezeDecision& decision, int64_t start_step, int64_t length,
                     bool announce);
  // After an optimizer step: scales each cooling unit's step, and freezes those whose
  // cool-down is over.
  void advance_cooling();
  bool is_cooling(const std::string& name) const;

  struct FreezeTarget {
    std::string name;
    std::vector<std::shared_ptr<torch::nn::Module>> modules;
    torch::nn::Sequential sequential{nullptr};  // the watched Sequential, if any
  };
  // The freeze unit of that name, or null.
  FreezeTarget* target_named(const std::string& name);
  // Freezes a unit through the controller; a watched Sequential's capture point of it then
  // runs without autograd.
  FreezeReport freeze_unit(FreezeTarget& target);
  // Freezes the unit `decision` names, records it and says so in the event log (with the step
  // its cool-down began, if it had one: `cooled_since` ≥ 0).
  void freeze_decided(const FreezeDecision& decision, FreezeTarget& target,
                      int64_t cooled_since = -1);

  // A unit cooling down before its freeze: its parameters and their values after the last step.
  struct Cooling {
    FreezeDecision decision;
    int64_t start_step = 0, length = 1;
    std::vector<torch::Tensor> parameters, previous;
  };
  std::vector<Cooling> cooling_;

  std::unique_ptr<DistributedState> distributed_;
  std::unique_ptr<Analyzer> analyzer_;
  std::vector<int64_t> probe_labels_;  // waiting for the analyzer to start
  Matrix control_inputs_;
  std::vector<std::shared_ptr<Sink>> extra_sinks_;  // given to the analyzer when it starts
  std::vector<MonitorEvent> early_events_;          // said before the analyzer started
  std::shared_ptr<torch::nn::Module> model_;
  torch::Tensor probe_inputs_;
  ProbeForward forward_;
  std::shared_ptr<std::set<std::string>> disabled_;
  std::shared_ptr<FreezePolicy> freeze_policy_;
  std::unique_ptr<FreezeController> freeze_controller_;
  std::vector<FreezeTarget> freeze_targets_;
  std::vector<FrozenLayer> frozen_;
  bool reported_missing_optimizer_ = false;
  torch::optim::Optimizer* optimizer_ = nullptr;
  // The drift policy: the units, their outputs on the first probe examples at the last probe
  // pass, and the learning rate summed over the steps since.
  std::vector<FrozenPrefixCache::Unit> chain_;
  std::vector<torch::Tensor> drift_outputs_;
  double learning_rate_since_probe_ = 0;
  // The forecast policy: the learning rate at each step and the planned number of steps.
  std::function<double(int64_t)> learning_rate_at_;
  int64_t total_steps_ = 0;
  bool reported_drift_problem_ = false;
  bool reported_frozen_batchnorm_ = false;
  bool finished_ = false;
  int64_t steps_ = 0, epochs_ = 0, probe_passes_ = 0, capture_errors_ = 0;
  int64_t epoch_start_step_ = 0;      // steps_ when the current epoch began
  int64_t previous_epoch_steps_ = 0;  // length of the last completed epoch (0: none yet)
  int64_t last_probe_step_ = -1;      // steps_ at the last probe pass (−1: none yet)
  double probe_seconds_ = 0;
  double probe_exchange_seconds_ = 0;
  double decision_wait_seconds_ = 0;
};

}  // namespace layerwatch
