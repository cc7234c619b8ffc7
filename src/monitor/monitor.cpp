#include "layerwatch/torch/monitor.h"

#include "layerwatch/core/blas_threads.h"
#include "layerwatch/report/html_report.h"
#include "layerwatch/torch/huge_page_allocator.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <map>
#include <set>

#include "capture/probe_capture.h"
#include "distributed/flat_buckets.h"
#include "monitor/distributed_state.h"
#include "monitor/monitor_impl.h"
#include "torch/error_text.h"

namespace layerwatch {
namespace {

// Saves every module's train/eval flag and restores it on destruction, also when the probe
// forward throws. `modules()` lists parents before children, and `train(bool)` is recursive,
// so restoring in that order leaves each module with its own saved flag.
class ModeGuard {
 public:
  explicit ModeGuard(const std::shared_ptr<torch::nn::Module>& model) {
    for (const auto& m : model->modules(/*include_self=*/true))
      saved_.emplace_back(m, m->is_training());
  }
  ~ModeGuard() {
    for (const auto& [module, training] : saved_) module->train(training);
  }

 private:
  std::vector<std::pair<std::shared_ptr<torch::nn::Module>, bool>> saved_;
};

std::vector<std::shared_ptr<Sink>> build_sinks(const MonitorOptions& options,
                                               std::vector<std::shared_ptr<Sink>> extra) {
  std::vector<std::shared_ptr<Sink>> sinks;
  for (const auto& spec : options.sinks()) sinks.push_back(make_sink(spec, options.log_dir()));
  for (auto& s : extra) sinks.push_back(std::move(s));
  return sinks;
}

}  // namespace

Monitor::Impl::Impl(std::shared_ptr<torch::nn::Module> model, torch::Tensor probe_inputs,
                    ProbeForward forward, MonitorOptions options,
                    std::vector<std::shared_ptr<Sink>> extra_sinks)
    : options_(std::move(options)),
      model_(std::move(model)),
      probe_inputs_(std::move(probe_inputs)),
      forward_(std::move(forward)),
      disabled_(std::make_shared<std::set<std::string>>()) {
  if (!model_) throw std::invalid_argument("Monitor needs a model (got a null module)");
  if (!forward_) throw std::invalid_argument("Monitor needs a probe forward function");
  options_.validate();
  const HugePageAllocatorStatus huge_pages =
      options_.huge_pages() ? use_huge_page_allocator() : HugePageAllocatorStatus{};
  if (options_.freeze().policy() != FreezePolicyKind::kNone) {
    freeze_policy_ = std::make_shared<FreezePolicy>(options_.freeze());
    extra_sinks.push_back(freeze_policy_);
  }
  extra_sinks_ = std::move(extra_sinks);
  if (!probe_inputs_.defined() || probe_inputs_.dim() == 0 || probe_inputs_.size(0) == 0) {
    probing_ = false;
    report(MonitorEvent::Kind::kCaptureError,
           fmt::format("the probe set is empty ({}): no layer can be measured; pass a fixed set "
                       "of examples (e.g. 500 held-out inputs) as probe_inputs",
                       probe_inputs_.defined()
                           ? fmt::format("shape [{}]", fmt::join(probe_inputs_.sizes(), ", "))
                           : std::string("undefined tensor")));
  }
  if (options_.huge_pages() && (!huge_pages.installed || huge_pages.mode == HugePageMode::kNever ||
                                huge_pages.mode == HugePageMode::kUnavailable)) {
    report(MonitorEvent::Kind::kNote, huge_pages.message);
  }
  const int blas = blas_threads(), intra_op = torch::get_num_threads();
  if (blas > 1 && intra_op > 1) {
    report(
        MonitorEvent::Kind::kNote,
        fmt::format("BLAS (OpenBLAS) runs {} threads beside LibTorch's {}: the two pools compete "
                    "for the cores, which slows training and the analyzer; call "
                    "layerwatch::set_blas_threads(1) before training (or set "
                    "OPENBLAS_NUM_THREADS=1)",
                    blas, intra_op));
  }
}

Monitor::Impl::~Impl() {
  for (const auto& event : early_events_) fmt::print(stderr, "layerwatch: {}\n", event.message);
}

void Monitor::Impl::start(const CheckpointContents* resume) {
  if (analyzer_) return;
  analyzer_ = std::make_unique<Analyzer>(options_.analysis(),
                                         build_sinks(options_, std::move(extra_sinks_)), resume);
  for (auto& event : std::exchange(early_events_, {})) analyzer_->announce(std::move(event));
  if (!probe_labels_.empty()) {
    analyzer_->set_probe_labels(std::exchange(probe_labels_, {}), std::move(control_inputs_));
  }
}

void Monitor::Impl::set_probe_labels(const torch::Tensor& labels) {
  if (!probing_) return;  // no probe set: said at construction
  const int64_t n = probe_inputs_.size(0);
  if (!labels.defined() || labels.dim() != 1 || labels.size(0) != n) {
    throw std::invalid_argument(fmt::format(
        "set_probe_labels: the labels must be a 1-D tensor with one class index per probe "
        "example ({}), got {}",
        n,
        labels.defined() ? fmt::format("shape [{}]", fmt::join(labels.sizes(), ", "))
                         : std::string("an undefined tensor")));
  }
  if (torch::isFloatingType(labels.scalar_type()) || labels.scalar_type() == torch::kBool) {
    throw std::invalid_argument(
        fmt::format("set_probe_labels: the labels must be integer class indices, got dtype {}",
                    c10::toString(labels.scalar_type())));
  }
  const auto cpu = labels.detach().to(torch::kCPU, torch::kLong).contiguous();
  std::vector<int64_t> values(cpu.data_ptr<int64_t>(), cpu.data_ptr<int64_t>() + n);
  const auto lowest = std::min_element(values.begin(), values.end());
  if (lowest != values.end() && *lowest < 0) {
    throw std::invalid_argument(fmt::format(
        "set_probe_labels: label {} is negative; labels are class indices 0, 1, …", *lowest));
  }
  // The control task clusters the inputs; wide inputs (large images) are first projected to
  // 256 dimensions by a fixed Gaussian matrix, which keeps their distances (Johnson–
  // Lindenstrauss) at a fraction of the cost.
  torch::Tensor inputs = probe_inputs_.detach().to(torch::kCPU, torch::kFloat).reshape({n, -1});
  constexpr int64_t kMaxWidth = 1024, kProjected = 256;
  if (inputs.size(1) > kMaxWidth) {
    auto generator = at::detail::createCPUGenerator(options_.probe().seed());
    const auto projection = torch::randn({inputs.size(1), kProjected}, generator, torch::kFloat) /
                            std::sqrt(static_cast<double>(kProjected));
    inputs = torch::matmul(inputs, projection);
  }
  inputs = inputs.contiguous();
  Eigen::MatrixXf matrix =
      Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
          inputs.data_ptr<float>(), inputs.size(0), inputs.size(1));
  if (analyzer_) {
    analyzer_->set_probe_labels(std::move(values), Matrix(matrix));
  } else {
    probe_labels_ = std::move(values);
    control_inputs_ = Matrix(matrix);
  }
}

Analyzer& Monitor::Impl::analyzer() {
  start();
  return *analyzer_;
}

void Monitor::Impl::report(MonitorEvent::Kind kind, const std::string& message,
                           const std::string& layer) {
  auto event = MonitorEvent::make(kind, steps_, epochs_, message, layer);
  if (analyzer_) {
    analyzer_->announce(std::move(event));
  } else {
    early_events_.push_back(std::move(event));
  }
}

CaptureHandle Monitor::Impl::watch(torch::nn::Sequential& sequential, WatchOptions options) {
  if (options.prefix().empty()) {
    for (const auto& item : model_->named_modules()) {
      if (item.value().get() == sequential.ptr().get()) {
        options.prefix(item.key());
        break;
      }
    }
  }
  auto handle = layerwatch::watch(sequential, options);
  const auto names = handle.names();
  const auto modules = handle.modules();
  for (size_t i = 0; i < names.size() && i < modules.size(); ++i) {
    freeze_targets_.push_back(FreezeTarget{names[i], {modules[i]}, sequential});
  }
  publish_freeze_order();
  return handle;
}

void Monitor::Impl::add_freeze_target(const std::string& name,
                                      std::shared_ptr<torch::nn::Module> module) {
  if (!module)
    throw std::invalid_argument(fmt::format("freeze target '{}' is a null module", name));
  if (auto* unit = target_named(name)) {
    // One unit, several modules (a stem whose conv and BatchNorm sit on the model itself).
    if (std::find(unit->modules.begin(), unit->modules.end(), module) == unit->modules.end()) {
      unit->modules.push_back(std::move(module));
    }
    return;
  }
  freeze_targets_.push_back(FreezeTarget{name, {std::move(module)}, nullptr});
  publish_freeze_order();
}

Monitor::Impl::FreezeTarget* Monitor::Impl::target_named(const std::string& name) {
  const auto it = std::find_if(freeze_targets_.begin(), freeze_targets_.end(),
                               [&](const FreezeTarget& t) { return t.name == name; });
  return it == freeze_targets_.end() ? nullptr : &*it;
}

FreezeReport Monitor::Impl::freeze_unit(FreezeTarget& target) {
  return freeze_controller_->freeze(target.name, target.modules,
                                    target.sequential.is_empty() ? nullptr : &target.sequential);
}

void Monitor::Impl::publish_freeze_order() {
  if (!freeze_policy_) return;
  std::vector<std::string> order;
  for (const auto& t : freeze_targets_) order.push_back(t.name);
  freeze_policy_->set_layers(order);
}

void Monitor::Impl::attach_optimizer(torch::optim::Optimizer& optimizer) {
  freeze_controller_ = std::make_unique<FreezeController>(&optimizer);
  optimizer_ = &optimizer;
}

void Monitor::Impl::set_unit_chain(std::vector<FrozenPrefixCache::Unit> units) {
  for (const auto& unit : units) {
    if (unit.module.is_empty()) {
      throw std::invalid_argument(
          fmt::format("set_unit_chain: unit '{}' has no module", unit.name));
    }
  }
  chain_ = std::move(units);
  drift_outputs_.clear();
  learning_rate_since_probe_ = 0;
}

void Monitor::Impl::set_learning_rate_schedule(std::function<double(int64_t)> rate,
                                               int64_t total_steps) {
  if (!rate) throw std::invalid_argument("set_learning_rate_schedule: the schedule is empty");
  if (total_steps < 1) {
    throw std::invalid_argument(fmt::format(
        "set_learning_rate_schedule: total_steps is {}; give the planned number of optimizer "
        "steps (epochs × steps per epoch)",
        total_steps));
  }
  learning_rate_at_ = std::move(rate);
  total_steps_ = total_steps;
}

bool Monitor::Impl::measures_drift() const {
  const auto policy = options_.freeze().policy();
  return freeze_policy_ &&
         (policy == FreezePolicyKind::kDrift || policy == FreezePolicyKind::kForecast);
}

double Monitor::Impl::learning_rate_to_come() const {
  double sum = 0;
  for (int64_t s = steps_; s < total_steps_; ++s) sum += learning_rate_at_(s);
  return sum;
}

void Monitor::Impl::measure_drift() {
  if (!measures_drift()) return;
  const char* policy = to_string(options_.freeze().policy());
  const auto problem = [&](const std::string& what) {
    if (!reported_drift_problem_) report(MonitorEvent::Kind::kNote, what);
    reported_drift_problem_ = true;
  };
  if (distributed_) {
    return problem(
        fmt::format("the {} freeze policy runs in one process; across ranks it measures "
                    "nothing and freezes nothing (use linear or adaptive)",
                    policy));
  }
  if (chain_.empty()) {
    return problem(
        fmt::format("the {} freeze policy needs the model's units as a chain: call "
                    "monitor.set_unit_chain(FrozenPrefixCache::units_of(...)) before training; "
                    "nothing is frozen until then",
                    policy));
  }
  const bool forecast = options_.freeze().policy() == FreezePolicyKind::kForecast;
  if (forecast && !learning_rate_at_) {
    return problem(
        "the forecast freeze policy needs the learning rate still to come: call "
        "monitor.set_learning_rate_schedule(rate_at_step, total_steps) before training; "
        "nothing is frozen until then");
  }
  if (!optimizer_) return;  // apply_decisions says it; there is no learning rate to divide by
  const int64_t examples = std::min(options_.freeze().drift_examples(), probe_inputs_.size(0));
  const bool previous = drift_outputs_.size() == chain_.size() && learning_rate_since_probe_ > 0;
  std::map<std::string, double> drift;
  std::vector<torch::Tensor> outputs;
  try {
    ModeGuard modes(model_);
    model_->eval();
    torch::NoGradGuard no_grad;
    const auto inputs = probe_inputs_.narrow(0, 0, examples);
    torch::Tensor x = inputs;
    for (size_t k = 0; k < chain_.size(); ++k) {
      if (previous) {
        // This unit's weights now, on its input as it was at the previous probe pass.
        const auto& before = drift_outputs_[k];
        const torch::Tensor now = chain_[k].module.forward(k == 0 ? inputs : drift_outputs_[k - 1]);
        const double norm = before.norm().item<double>();
        const double change = (now - before).norm().item<double>();
        drift[chain_[k].name] = norm > 0 ? change / norm / learning_rate_since_probe_
                                         : std::numeric_limits<double>::quiet_NaN();
      }
      x = chain_[k].module.forward(x);
      outputs.push_back(x);
    }
  } catch (const std::exception& e) {
    drift_outputs_.clear();
    learning_rate_since_probe_ = 0;
    report(MonitorEvent::Kind::kNote,
           fmt::format("drift not measured at step {}: {}", steps_, detail::error_text(e)));
    return;
  }
  drift_outputs_ = std::move(outputs);
  learning_rate_since_probe_ = 0;
  if (drift.empty()) return;
  const double to_come =
      forecast ? learning_rate_to_come() : std::numeric_limits<double>::quiet_NaN();
  std::vector<std::string> values, forecasts;
  for (const auto& unit : chain_) {
    const double v = drift[unit.name];
    values.push_back(fmt::format("{} {:.4g}", unit.name, v));
    forecasts.push_back(fmt::format("{} {:.4f}", unit.name, forecast_similarity(v, to_come)));
  }
  if (speaks()) {
    analyzer_->add_event(MonitorEvent::make(
        MonitorEvent::Kind::kNote, steps_, epochs_,
        fmt::format("drift per unit of learning rate: {}", fmt::join(values, ", "))));
    if (forecast) {
      analyzer_->add_event(MonitorEvent::make(
          MonitorEvent::Kind::kNote, steps_, epochs_,
          fmt::format("forecast similarity to the final output (learning rate still to come "
                      "{:.6g}): {}",
                      to_come, fmt::join(forecasts, ", "))));
    }
  }
  freeze_policy_->observe_drift(steps_, epochs_, drift, to_come);
}

std::vector<std::string> Monitor::Impl::frozen_layers() const {
  std::vector<std::string> names;
  for (const auto& f : frozen_) names.push_back(f.layer);
  return names;
}

void Monitor::Impl::apply_freeze_decisions() {
  if (freeze_policy_) apply_decisions(freeze_policy_->take_decisions());
}

void Monitor::Impl::apply_decisions(const std::vector<FreezeDecision>& decisions) {
  if (decisions.empty()) return;
  if (!freeze_controller_) {
    if (!reported_missing_optimizer_ && speaks()) {
      reported_missing_optimizer_ = true;
      report(
          MonitorEvent::Kind::kNote,
          fmt::format("the {} freeze policy decided to freeze '{}', but no optimizer is attached: "
                      "call monitor.attach_optimizer(optimizer); nothing is frozen",
                      to_string(options_.freeze().policy()), decisions.front().layer));
    }
    return;
  }
  for (const auto& d : decisions) {
    auto* target = target_named(d.layer);
    if (!target || freeze_controller_->is_frozen(d.layer) || is_cooling(d.layer)) continue;
    if (!freeze_controller_->leaves_parameters_to_train(target->modules)) {
      if (!speaks()) continue;
      report(MonitorEvent::Kind::kNote,
             fmt::format("not freezing '{}' ({}): it holds the last parameters the optimizer "
                         "trains, and the next backward pass would have nothing to compute; "
                         "leave the output layer out of the watched layers, or keep the policy "
                         "from freezing every layer (linear_pace ≥ 1, max_frozen_fraction < 1)",
                         d.layer, d.reason));
      continue;
    }
    if (options_.freeze().cooldown_epochs() > 0) {
      start_cooling(d, steps_, cooldown_steps(), true);
    } else {
      freeze_decided(d, *target);
    }
  }
}

void Monitor::Impl::freeze_decided(const FreezeDecision& d, FreezeTarget& target,
                                   int64_t cooled_since) {
  const int64_t reduced_before = distributed_ ? detail::gradient_bytes(parameters_to_reduce()) : 0;
  const auto applied = freeze_unit(target);
  frozen_.push_back(FrozenLayer{d.layer, steps_, epochs_, applied});
  if (!speaks()) return;
  const std::string all_reduce =
      distributed_ ? fmt::format("; gradient all-reduce {} -> {} bytes per step", reduced_before,
                                 detail::gradient_bytes(parameters_to_reduce()))
                   : "";
  const std::string cooled = cooled_since < 0
                                 ? ""
                                 : fmt::format("; cooled down over the {} steps since step {}",
                                               steps_ - cooled_since, cooled_since);
  auto event = MonitorEvent::make(
      MonitorEvent::Kind::kFreeze, steps_, epochs_,
      fmt::format("{}{}; {} parameter tensors frozen, {} removed from the optimizer with {} "
                  "optimizer states{}{}",
                  d.reason, cooled, applied.parameters, applied.removed_from_optimizer,
                  applied.optimizer_states_erased,
                  applied.autograd_skipped ? "; runs without autograd" : "", all_reduce),
      d.layer, applied.parameters);
  event.value = d.value;
  analyzer().add_event(std::move(event));
}

int64_t Monitor::Impl::cooldown_steps() const {
  int64_t epoch = previous_epoch_steps_;
  if (epoch <= 0) epoch = options_.probe().steps_per_epoch();
  if (epoch <= 0) epoch = steps_;  // no epoch complete yet: the steps so far stand for one
  return std::max<int64_t>(
      1, std::llround(options_.freeze().cooldown_epochs() * static_cast<double>(epoch)));
}

bool Monitor::Impl::is_cooling(const std::string& name) const {
  return std::any_of(cooling_.begin(), cooling_.end(),
                     [&](const Cooling& c) { return c.decision.layer == name; });
}

void Monitor::Impl::start_cooling(const FreezeDecision& decision, int64_t start_step,
                                  int64_t length, bool announce) {
  Cooling cooling{decision, start_step, length, {}, {}};
  for (const auto& module : target_named(decision.layer)->modules) {
    for (const auto& p : module->parameters()) {
      cooling.parameters.push_back(p);
      cooling.previous.push_back(p.detach().clone());
    }
  }
  cooling_.push_back(std::move(cooling));
  if (!announce || !speaks()) return;
  report(MonitorEvent::Kind::kNote,
         fmt::format("cooling '{}' down over {} steps (each step's change scaled from 1 down to "
                     "0), then freezing it: {}",
                     decision.layer, length, decision.reason),
         decision.layer);
}

void Monitor::Impl::advance_cooling() {
  if (cooling_.empty()) return;
  torch::NoGradGuard no_grad;
  std::vector<Cooling> still;
  for (auto& c : cooling_) {
    const int64_t k = steps_ - c.start_step;
    const double scale =
        std::max(0.0, 1.0 - static_cast<double>(k) / static_cast<double>(c.length));
    for (size_t i = 0; i < c.parameters.size(); ++i) {
      // previous + scale · (what this step moved it)
      c.parameters[i].sub_(c.previous[i]).mul_(scale).add_(c.previous[i]);
      c.previous[i].copy_(c.parameters[i]);
    }
    if (k >= c.length) {
      freeze_decided(c.decision, *target_named(c.decision.layer), c.start_step);
    } else {
      still.push_back(std::move(c));
    }
  }
  cooling_ = std::move(still);
}

CaptureHandle Monitor::Impl::capture_handle(const std::string& name) {
  auto disabled = disabled_;
  return CaptureHandle({name}, [disabled, name] { disabled->insert(name); });
}

void Monitor::Impl::train(bool on) {
  model_->train(on);
  if (freeze_controller_) freeze_controller_->enforce_eval();
}

void Monitor::Impl::keep_frozen_batchnorm_in_eval() {
  if (!freeze_controller_) return;
  const auto found = freeze_controller_->restore_frozen_batchnorm();
  if (found.empty() || reported_frozen_batchnorm_) return;
  reported_frozen_batchnorm_ = true;
  report(MonitorEvent::Kind::kNote,
         fmt::format("the frozen layer '{}' had BatchNorm in training mode at step {} "
                     "(model->train() switches every module), so that step normalised it with "
                     "batch statistics; its running statistics are restored and it is in eval "
                     "mode again. Call monitor.train() instead of model->train(): it keeps "
                     "frozen layers in eval mode",
                     found.front(), steps_),
         found.front());
}

void Monitor::Impl::step() {
  start();
  ++steps_;
  advance_cooling();
  // Only the drift and forecast policies divide by it.
  if (measures_drift() && optimizer_ && !chain_.empty() && !optimizer_->param_groups().empty())
    learning_rate_since_probe_ += optimizer_->param_groups().front().options().get_lr();
  keep_frozen_batchnorm_in_eval();
  // Across ranks, decisions arrive only at the exchanges after probe passes and epoch ends, so
  // that every rank applies them at the same step.
  if (!distributed_) apply_freeze_decisions();
  const bool start = steps_ == 1 && options_.probe().at_start();
  const int64_t every = options_.probe().every_n_steps();
  const int64_t in_epoch = steps_ - epoch_start_step_;
  if (start || (every > 0 && in_epoch % every == 0) || within_epoch_probe_due(in_epoch)) {
    probe();
    if (distributed_) {
      sync_ranks(freeze_policy_ && options_.freeze().wait_for_decisions(), false);
    } else {
      wait_for_freeze_decisions();
    }
  }
}

void Monitor::Impl::end_epoch() {
  start();
  keep_frozen_batchnorm_in_eval();
  if (!distributed_) apply_freeze_decisions();
  ++epochs_;
  // The same weights were just probed by step(): that snapshot already stands for this epoch.
  if (options_.probe().each_epoch() && last_probe_step_ != steps_) probe();
  previous_epoch_steps_ = steps_ - epoch_start_step_;
  epoch_start_step_ = steps_;
  if (distributed_) {
    // The epoch's summary needs every rank's records of it.
    sync_ranks(true, true);
    return;
  }
  analyzer_->end_epoch(epochs_, steps_);
  wait_for_freeze_decisions();
}

bool Monitor::Impl::within_epoch_probe_due(int64_t in_epoch) const {
  const int64_t parts = options_.probe().per_epoch();
  const int64_t length = options_.probe().steps_per_epoch() > 0 ? options_.probe().steps_per_epoch()
                                                                : previous_epoch_steps_;
  if (parts < 2 || length < 2 || in_epoch >= length) return false;
  // Probe j of `parts` sits at round(j·length/parts); the last one is end_epoch()'s.
  const auto offset = [&](int64_t j) { return (2 * j * length + parts) / (2 * parts); };
  const int64_t j = (in_epoch * parts + length / 2) / length;
  return j >= 1 && j < parts && offset(j) == in_epoch;
}

void Monitor::Impl::wait_for_freeze_decisions() {
  if (!freeze_policy_ || !options_.freeze().wait_for_decisions()) return;
  const auto start = std::chrono::steady_clock::now();
  analyzer().flush();
  decision_wait_seconds_ +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  apply_freeze_decisions();
}

void Monitor::Impl::probe() {
  start();
  if (!probing_ || finished_) return;
  last_probe_step_ = steps_;
  const auto start = std::chrono::steady_clock::now();
  const int64_t total = probe_inputs_.size(0);
  detail::ProbeLayout layout;
  layout.total_examples = total;
  layout.sample_cap = options_.probe().sample_cap();
  layout.conv_layout = options_.probe().conv_layout();
  layout.seed = options_.probe().seed();
  layout.byte_limit = options_.analysis().store().memory_budget();
  layout.bytes_per_value = options_.analysis().store().float16() ? 2 : 4;
  layout.keep_sampled_rows = options_.analysis().probing().enabled();
  // Across ranks, each runs its share of the chunks (the same chunks as one process would).
  const int64_t batch = options_.probe().batch_size();
  const int64_t chunks = (total + batch - 1) / batch;
  const auto [first_chunk, last_chunk] =
      distributed_ ? probe_chunks(chunks, rank()) : std::pair<int64_t, int64_t>{0, chunks};
  layout.shard = distributed_ != nullptr;
  detail::ProbeCapture capture(layout, *disabled_);
  std::string error;
  try {
    ModeGuard modes(model_);
    model_->eval();
    torch::NoGradGuard no_grad;
    detail::ReceiverScope scope(&capture);
    for (int64_t c = first_chunk; c < last_chunk; ++c) {
      const int64_t offset = c * batch, size = std::min(batch, total - offset);
      capture.begin_chunk(offset, size);
      forward_(probe_inputs_.narrow(0, offset, size));
    }
  } catch (const std::exception& e) {
    error = detail::error_text(e);
  } catch (...) {
    error = "the probe forward threw something that is not a std::exception";
  }
  if (!error.empty() && !distributed_) return probe_failed(error, start);
  auto result =
      error.empty() ? capture.take(steps_, epochs_, probe_passes_) : detail::ProbeCapture::Result{};
  ++probe_passes_;
  if (distributed_) {
    const auto exchange_start = std::chrono::steady_clock::now();
    if (!share_probe_pass(std::move(result), error, last_chunk - first_chunk)) --probe_passes_;
    measure_drift();  // says once that the drift policy runs in one process
    probe_exchange_seconds_ +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - exchange_start).count();
    probe_seconds_ +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return;
  }
  for (auto& failure : result.failures) {
    if (failure.status == Status::kError) ++capture_errors_;
    ConvergenceRecord record;
    record.step = steps_;
    record.epoch = epochs_;
    record.probe_index = probe_passes_ - 1;
    record.layer = failure.layer;
    record.reference = options_.analysis().reference();
    record.metric = options_.analysis().metric();
    record.status = failure.status;
    record.message = std::move(failure.message);
    analyzer_->add_record(std::move(record));
  }
  if (result.snapshots.empty() && result.failures.empty() && probe_passes_ == 1) {
    report(MonitorEvent::Kind::kCaptureError,
           "the probe pass captured no layer: watch a Sequential, register Tap modules or call "
           "layerwatch::tap() in forward");
  }
  const auto& logits = options_.analysis().probing().class_logits();
  if (!logits.empty() && probe_passes_ == 1 &&
      std::none_of(result.snapshots.begin(), result.snapshots.end(),
                   [&](const Snapshot& s) { return s.layer == logits; })) {
    report(MonitorEvent::Kind::kNote,
           fmt::format("probing.class_logits names layer '{}', which the probe pass did not "
                       "capture: watch the layer that outputs the class scores, or fix the name",
                       logits));
  }
  analyzer_->add_probe_pass(std::move(result.snapshots));
  measure_drift();
  probe_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void Monitor::Impl::probe_failed(const std::string& what,
                                 std::chrono::steady_clock::time_point start) {
  ++capture_errors_;
  report(MonitorEvent::Kind::kCaptureError,
         fmt::format("probe pass at step {} failed and was skipped: {}", steps_, what));
  probe_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void Monitor::Impl::flush() { analyzer().flush(); }

void Monitor::Impl::finish() {
  if (finished_) return;
  if (distributed_ && !distributed_->failed()) {
    finish_ranks();
  } else {
    analyzer().finish();
  }
  finished_ = true;
  write_report_file();
}

void Monitor::Impl::write_report_file() {
  const auto& sinks = options_.sinks();
  if (!options_.report()) return;
  if (std::find(sinks.begin(), sinks.end(), "jsonl") == sinks.end()) {
    fmt::print(stderr,
               "layerwatch: no report.html: the report reads <log_dir>/convergence.jsonl, so add "
               "the \"jsonl\" sink (or set report to false)\n");
    return;
  }
  try {
    write_report(options_.log_dir());
  } catch (const std::exception& e) {
    fmt::print(stderr, "layerwatch: report.html not written: {}\n", e.what());
  }
}

MonitorStats Monitor::Impl::stats() const {
  MonitorStats s;
  s.steps = steps_;
  s.epochs = epochs_;
  s.probe_passes = probe_passes_;
  s.probe_seconds = probe_seconds_;
  s.probe_exchange_seconds = probe_exchange_seconds_;
  s.decision_wait_seconds = decision_wait_seconds_;
  s.capture_errors = capture_errors_;
  s.frozen = frozen_;
  for (const auto& c : cooling_) s.cooling.push_back(c.decision.layer);
  if (analyzer_) s.analyzer = analyzer_->stats();
  return s;
}

// ---- the public face ----------------------------------------------------------------------

Monitor::Monitor(std::shared_ptr<torch::nn::Module> model, torch::Tensor probe_inputs,
                 ProbeForward forward, MonitorOptions options,
                 std::vector<std::shared_ptr<Sink>> extra_sinks)
    : impl_(std::make_unique<Impl>(std::move(model), std::move(probe_inputs), std::move(forward),
                                   std::move(options), std::move(extra_sinks))) {}

Monitor::~Monitor() = default;

CaptureHandle Monitor::watch(torch::nn::Sequential& sequential, WatchOptions options) {
  return impl_->watch(sequential, std::move(options));
}
CaptureHandle Monitor::capture_handle(const std::string& name) {
  return impl_->capture_handle(name);
}
void Monitor::set_unit_chain(std::vector<FrozenPrefixCache::Unit> units) {
  impl_->set_unit_chain(std::move(units));
}

void Monitor::set_learning_rate_schedule(std::function<double(int64_t step)> rate,
                                         int64_t total_steps) {
  impl_->set_learning_rate_schedule(std::move(rate), total_steps);
}

void Monitor::attach_optimizer(torch::optim::Optimizer& optimizer) {
  impl_->attach_optimizer(optimizer);
}
void Monitor::add_freeze_target(const std::string& name,
                                std::shared_ptr<torch::nn::Module> module) {
  impl_->add_freeze_target(name, std::move(module));
}
void Monitor::train(bool on) { impl_->train(on); }
std::vector<std::string> Monitor::frozen_layers() const { return impl_->frozen_layers(); }
void Monitor::step() {
  impl_->among_ranks([&] { impl_->step(); });
}
void Monitor::end_epoch() {
  impl_->among_ranks([&] { impl_->end_epoch(); });
}
void Monitor::probe() {
  impl_->among_ranks([&] { impl_->probe(); });
}
void Monitor::set_probe_labels(const torch::Tensor& labels) { impl_->set_probe_labels(labels); }
void Monitor::flush() { impl_->flush(); }
void Monitor::finish() {
  impl_->among_ranks([&] { impl_->finish(); });
}
void Monitor::distribute(const c10::intrusive_ptr<c10d::ProcessGroup>& group,
                         DistributedOptions options) {
  impl_->distribute(group, std::move(options));
}
void Monitor::all_reduce_gradients() {
  impl_->among_ranks([&] { impl_->all_reduce_gradients(); });
}
std::vector<torch::Tensor> Monitor::parameters_to_reduce() const {
  return impl_->parameters_to_reduce();
}
bool Monitor::any_rank(bool flag) {
  bool any = flag;
  impl_->among_ranks([&] { any = impl_->any_rank(flag); });
  return any;
}
int Monitor::rank() const { return impl_->rank(); }
int Monitor::world_size() const { return impl_->world_size(); }
MonitorStats Monitor::stats() const { return impl_->stats(); }
const MonitorOptions& Monitor::options() const { return impl_->options_; }
Analyzer& Monitor::analyzer() { return impl_->analyzer(); }
bool Monitor::probing() const { return impl_->probing_; }

}  // namespace layerwatch
