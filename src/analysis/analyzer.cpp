#include "layerwatch/analysis/analyzer.h"

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <iterator>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <numeric>
#include <stdexcept>
#include <thread>
#include <utility>

#include "layerwatch/probing/class_logit_cca.h"
#include "layerwatch/probing/control_task.h"
#include "layerwatch/similarity/resampling.h"
#include "sinks/console_sink.h"

namespace layerwatch {

namespace sim = similarity;

const char* to_string(QueuePolicy policy) noexcept {
  return policy == QueuePolicy::kSkipToNewest ? "skip_to_newest" : "drop_newest";
}

void AnalyzerOptions::check_relations() const {
  if (reference_lag_ > store_.history()) {
    throw std::invalid_argument(fmt::format(
        "AnalyzerOptions: reference_lag ({}) must be at most store.history ({}), the snapshots "
        "kept per layer: the snapshot that many probe passes back must still be stored",
        reference_lag_, store_.history()));
  }
}

namespace {

double mib(std::size_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

struct Job {
  enum class Kind { kCompare, kRecord, kEvent, kBarrier, kProbe, kLayerOrder };
  Kind kind = Kind::kCompare;
  SnapshotStore::Ptr current, reference;
  Reference reference_kind = Reference::kPrevious;
  ConvergenceRecord record;
  std::vector<ProbeRecord> probe_records;  // kProbe: current = the layer, reference = logits
  MonitorEvent event;
  std::vector<std::string> layers;  // kLayerOrder
  int64_t epoch = 0;
  bool close_sinks = false;

  bool online_compare() const {
    return kind == Kind::kCompare && reference_kind != Reference::kFinal;
  }
};

Job event_job(MonitorEvent event) {
  Job job;
  job.kind = Job::Kind::kEvent;
  job.event = std::move(event);
  return job;
}

struct SinkSlot {
  std::shared_ptr<Sink> sink;
  bool console = false;
  bool failed = false;  // reported once and disabled: only close() is called after that
  bool closed = false;
};

// Prepared activations of recent snapshots, so that a snapshot compared twice (with its
// predecessor, then with its successor; or the final snapshot against every stored one) is
// centred and factorized once. Holds weak references: it never keeps a snapshot alive.
class ActivationCache {
 public:
  explicit ActivationCache(sim::Precision precision) : precision_(precision) {}

  sim::Activations get(const SnapshotStore::Ptr& snapshot) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (const auto& [weak, prepared] : entries_[snapshot->layer]) {
        if (weak.lock() == snapshot) return prepared;
      }
    }
    sim::Activations prepared = snapshot->is_half()
                                    ? sim::Activations(snapshot->to_float(), precision_)
                                    : sim::Activations(snapshot->values, precision_);
    std::lock_guard<std::mutex> lock(mutex_);
    auto& layer = entries_[snapshot->layer];
    layer.emplace_back(snapshot, prepared);
    if (layer.size() > kPerLayer) layer.pop_front();
    return prepared;
  }

 private:
  static constexpr size_t kPerLayer = 2;
  sim::Precision precision_;
  std::mutex mutex_;
  std::map<std::string, std::deque<std::pair<std::weak_ptr<const Snapshot>, sim::Activations>>>
      entries_;
};

// The snapshot's place in the run, on a record about it.
template <typename Record>
void stamp(const Snapshot& s, Record& r) {
  r.step = s.step;
  r.epoch = s.epoch;
  r.probe_index = s.probe_index;
  r.layer = s.layer;
}

// A layer's activations with one row per probe example: the rows of each example (its
// positions, for a conv layer in the spatial layout) averaged. When sample_cap kept only some
// rows, each example averages the rows it kept, and examples with none are left out.
struct ExampleRows {
  Eigen::MatrixXf values;         // one row per example in `examples`
  std::vector<int64_t> examples;  // the probe examples present, ascending
};

ExampleRows per_example(const Snapshot& s) {
  const int64_t per = s.rows_per_example;
  const Eigen::MatrixXf all = s.to_float();
  ExampleRows out;
  if (s.sampled_rows.empty()) {
    const int64_t examples = all.rows() / per;
    out.examples.resize(static_cast<size_t>(examples));
    std::iota(out.examples.begin(), out.examples.end(), int64_t{0});
    if (per == 1) {
      out.values = all;
      return out;
    }
    out.values.resize(examples, all.cols());
    for (int64_t e = 0; e < examples; ++e) {
      out.values.row(e) = all.middleRows(e * per, per).colwise().mean();
    }
    return out;
  }
  std::vector<Eigen::VectorXf> sums;
  std::vector<int64_t> counts;
  for (Eigen::Index i = 0; i < all.rows(); ++i) {
    const int64_t example = s.sampled_rows[static_cast<size_t>(i)] / per;
    if (out.examples.empty() || out.examples.back() != example) {
      out.examples.push_back(example);
      sums.push_back(Eigen::VectorXf::Zero(all.cols()));
      counts.push_back(0);
    }
    sums.back() += all.row(i).transpose();
    ++counts.back();
  }
  out.values.resize(static_cast<Eigen::Index>(out.examples.size()), all.cols());
  for (size_t e = 0; e < sums.size(); ++e) {
    out.values.row(static_cast<Eigen::Index>(e)) =
        sums[e].transpose() / static_cast<float>(counts[e]);
  }
  return out;
}

// The entries of `values` at `indices`.
std::vector<int64_t> pick(const std::vector<int64_t>& values, const std::vector<int64_t>& indices) {
  std::vector<int64_t> out;
  out.reserve(indices.size());
  for (const auto i : indices) out.push_back(values[static_cast<size_t>(i)]);
  return out;
}

}  // namespace

class Analyzer::Impl {
 public:
  Impl(AnalyzerOptions options, std::vector<std::shared_ptr<Sink>> sinks,
       const CheckpointContents* resume_from);
  ~Impl();
  CheckpointContents save_state();

  SnapshotStore::Ptr add_snapshot(Snapshot snapshot);
  void add_probe_pass(std::vector<Snapshot> snapshots);
  void set_probe_labels(std::vector<int64_t> labels, Matrix inputs);
  void check_budget(const std::vector<Snapshot>& pass);
  void announce(MonitorEvent event);
  void push_job(Job job);
  void end_epoch(int64_t epoch, int64_t step);
  void flush();
  void finish();
  AnalyzerStats stats() const;

  AnalyzerOptions options;
  SnapshotStore store;
  std::vector<std::string> sink_failures;
  bool console = false;  // a console sink shows the events; otherwise they go to stderr

 private:
  void enqueue_compare(SnapshotStore::Ptr current, SnapshotStore::Ptr reference, Reference kind);
  void worker();
  void compare(Job& job);
  void probe(Job& job);
  std::vector<int64_t> control_labels();
  void add_interval(const Snapshot& reference, const Snapshot& current, ConvergenceRecord& r) const;
  void deliver_in_order(uint64_t ticket, Job job);
  void deliver(const Job& job);
  template <typename Call>
  void for_each_sink(const char* what, Call&& call);
  void wait_until_idle(std::unique_lock<std::mutex>& lock);

  ActivationCache cache_;
  std::vector<std::unique_ptr<SinkSlot>> sinks_;

  mutable std::mutex mutex_;  // the queue and the counters below
  std::condition_variable work_ready_;
  std::condition_variable work_done_;
  std::deque<Job> queue_;
  int64_t running_ = 0;
  uint64_t next_ticket_ = 0;
  bool stopping_ = false;
  bool finished_ = false;
  bool budget_checked_ = false;
  int64_t skipped_ = 0, skipped_since_epoch_ = 0;

  std::mutex delivery_mutex_;  // the sinks, and the outcomes waiting for their turn
  std::map<uint64_t, Job> finished_jobs_;
  uint64_t next_delivery_ = 0;

  std::mutex probe_mutex_;  // the labels and the control task
  std::vector<int64_t> probe_labels_;
  Matrix control_inputs_;
  std::vector<int64_t> control_labels_;

  std::atomic<int64_t> records_{0}, failed_{0};
  std::atomic<int64_t> sink_errors_{0};
  std::vector<std::thread> workers_;
};

Analyzer::Impl::Impl(AnalyzerOptions options_in, std::vector<std::shared_ptr<Sink>> sinks,
                     const CheckpointContents* resume_from)
    : options(std::move(options_in)), store(options.store()), cache_(options.precision()) {
  validate_options(options);
  std::vector<MonitorEvent> open_errors;
  const nlohmann::json no_state;
  const auto& sink_states = resume_from ? resume_from->state.value("sinks", no_state) : no_state;
  for (auto& sink : sinks) {
    if (!sink) continue;
    try {
      if (sink_states.is_object() && sink_states.contains(sink->name())) {
        sink->restore_state(sink_states.at(sink->name()));
      }
      sink->open();
      const bool is_console = dynamic_cast<const ConsoleSink*>(sink.get()) != nullptr;
      sinks_.push_back(std::make_unique<SinkSlot>(SinkSlot{sink, is_console}));
    } catch (const std::exception& e) {
      const auto message = fmt::format("sink {} is disabled: {}; the other sinks keep logging",
                                       sink->name(), e.what());
      sink_failures.push_back(message);
      ++sink_errors_;
      open_errors.push_back(MonitorEvent::make(MonitorEvent::Kind::kSinkError, 0, 0, message));
    }
  }
  for (const auto& slot : sinks_) console = console || slot->console;
  for (auto& event : open_errors) announce(std::move(event));
  if (resume_from) {
    const auto counters = resume_from->state.value("counters", nlohmann::json::object());
    records_ = counters.value("records", int64_t{0});
    failed_ = counters.value("failed", int64_t{0});
    skipped_ = counters.value("skipped", int64_t{0});
    budget_checked_ = counters.value("budget_checked", false);
    for (const auto& item : resume_from->snapshots)
      store.push(Snapshot(*item.snapshot), item.pinned);
  }
  for (int64_t i = 0; i < options.threads(); ++i) workers_.emplace_back([this] { worker(); });
}

Analyzer::Impl::~Impl() {
  size_t discarded = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    for (const auto& job : queue_) discarded += job.kind == Job::Kind::kCompare ? 1 : 0;
    queue_.clear();
  }
  work_ready_.notify_all();
  work_done_.notify_all();
  for (auto& t : workers_) t.join();
  if (!finished_) {
    if (discarded > 0) {
      fmt::print(stderr,
                 "layerwatch: analyzer stopped with {} comparison(s) not analysed; call "
                 "Monitor::finish() before the end of training to complete them\n",
                 discarded);
    }
    std::lock_guard<std::mutex> lock(delivery_mutex_);
    for_each_sink("close", [](Sink& s) { s.close(); });
  }
}

CheckpointContents Analyzer::Impl::save_state() {
  flush();
  CheckpointContents contents;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    contents.state["counters"] = {{"records", records_.load()},
                                  {"failed", failed_.load()},
                                  {"skipped", skipped_},
                                  {"budget_checked", budget_checked_}};
  }
  nlohmann::json sink_states = nlohmann::json::object();
  {
    std::lock_guard<std::mutex> lock(delivery_mutex_);
    for (auto& slot : sinks_) {
      if (slot->closed) continue;
      // A sink that cannot say where it stands starts afresh on resume; the others continue.
      try {
        auto state = slot->sink->save_state();
        if (!state.is_null()) sink_states[slot->sink->name()] = std::move(state);
      } catch (const std::exception& e) {
        fmt::print(stderr, "layerwatch: sink {} left out of the checkpoint: {}\n",
                   slot->sink->name(), e.what());
      }
    }
  }
  contents.state["sinks"] = std::move(sink_states);
  for (auto& item : store.contents()) {
    contents.snapshots.push_back(CheckpointSnapshot{std::move(item.snapshot), item.pinned});
  }
  return contents;
}

void Analyzer::Impl::announce(MonitorEvent event) {
  if (!console) fmt::print(stderr, "layerwatch: {}\n", event.message);
  push_job(event_job(std::move(event)));
}

void Analyzer::Impl::push_job(Job job) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_ || finished_) return;
    queue_.push_back(std::move(job));
  }
  work_ready_.notify_one();
}

SnapshotStore::Ptr Analyzer::Impl::add_snapshot(Snapshot snapshot) {
  const std::string layer = snapshot.layer;
  const int64_t step = snapshot.step, epoch = snapshot.epoch, probe = snapshot.probe_index;
  const bool first = options.reference() == Reference::kFirst;
  // Resolve the reference before pushing, so this push cannot evict it.
  SnapshotStore::Ptr reference;
  if (first) {
    reference = store.pinned(layer);
  } else {
    const auto history = store.history(layer);
    const auto lag = static_cast<size_t>(options.reference_lag());
    if (history.size() >= lag) reference = history[history.size() - lag];
  }
  auto result = store.push(std::move(snapshot), first && !reference);

  if (!result.evicted.empty()) {
    push_job(event_job(MonitorEvent::make(
        MonitorEvent::Kind::kSnapshotEvicted, step, epoch,
        fmt::format("{} old snapshot(s) evicted to stay within the store's capacity or "
                    "memory budget (first: {})",
                    result.evicted.size(), result.evicted.front()),
        "", static_cast<int64_t>(result.evicted.size()))));
  }
  if (!result.stored) {
    push_job(event_job(MonitorEvent::make(MonitorEvent::Kind::kSnapshotRefused, step, epoch,
                                          result.refusal, layer, 1)));
    Job record;
    record.kind = Job::Kind::kRecord;
    record.record.step = step;
    record.record.epoch = epoch;
    record.record.probe_index = probe;
    record.record.layer = layer;
    record.record.reference = options.reference();
    record.record.metric = options.metric();
    record.record.status = Status::kTooLarge;
    record.record.message = result.refusal;
    push_job(std::move(record));
    return nullptr;
  }
  if (reference) enqueue_compare(result.stored, std::move(reference), options.reference());
  return result.stored;
}

void Analyzer::Impl::add_probe_pass(std::vector<Snapshot> snapshots) {
  check_budget(snapshots);
  const auto& probing = options.probing();
  const bool probe_now = probing.enabled() && !snapshots.empty() &&
                         snapshots.front().probe_index % probing.every() == 0;
  std::vector<SnapshotStore::Ptr> stored;
  for (auto& snapshot : snapshots) stored.push_back(add_snapshot(std::move(snapshot)));
  if (!probe_now) return;
  SnapshotStore::Ptr logits;
  for (const auto& s : stored) {
    if (s && s->layer == probing.class_logits()) logits = s;
  }
  for (auto& s : stored) {
    if (!s || s == logits) continue;
    Job job;
    job.kind = Job::Kind::kProbe;
    job.current = std::move(s);
    job.reference = logits;
    push_job(std::move(job));
  }
}

void Analyzer::Impl::set_probe_labels(std::vector<int64_t> labels, Matrix inputs) {
  if (static_cast<int64_t>(labels.size()) != inputs.rows()) {
    throw std::invalid_argument(fmt::format(
        "set_probe_labels: {} labels for {} probe inputs: give one label per probe example",
        labels.size(), inputs.rows()));
  }
  for (const auto label : labels) {
    if (label < 0) {
      throw std::invalid_argument(fmt::format(
          "set_probe_labels: label {} is negative; labels are class indices 0, 1, …", label));
    }
  }
  std::lock_guard<std::mutex> lock(probe_mutex_);
  probe_labels_ = std::move(labels);
  control_inputs_ = std::move(inputs);
  control_labels_.clear();
}

void Analyzer::Impl::check_budget(const std::vector<Snapshot>& pass) {
  if (budget_checked_ || pass.empty()) return;
  budget_checked_ = true;
  // The reference and the new snapshot of every layer must be stored at once: the lag's
  // snapshots plus the new one for `previous`, the pinned first one plus the new one for
  // `first`.
  const std::size_t per_layer_copies = options.reference() == Reference::kFirst
                                           ? 2
                                           : static_cast<std::size_t>(options.reference_lag()) + 1;
  std::size_t per_pass = 0;
  for (const auto& s : pass) {
    // The store keeps float16 when asked to, at half the bytes of float32.
    per_pass += options.store().float16() && !s.is_half() ? s.bytes() / 2 : s.bytes();
  }
  const std::size_t needed = per_pass * per_layer_copies;
  const std::size_t budget = options.store().memory_budget();
  if (needed <= budget) return;
  announce(MonitorEvent::make(
      MonitorEvent::Kind::kNote, pass.front().step, pass.front().epoch,
      fmt::format("memory_budget ({:.1f} MiB) cannot hold {} snapshots of every watched layer at "
                  "once, so some layers will never be compared with their {} snapshot: that "
                  "needs at least {:.1f} MiB ({} layers, {:.1f} MiB per probe pass); raise "
                  "memory_budget, lower sample_cap or store float16",
                  mib(budget), per_layer_copies, to_string(options.reference()),
                  std::ceil(mib(needed) * 10) / 10, pass.size(), mib(per_pass))));
}

void Analyzer::Impl::enqueue_compare(SnapshotStore::Ptr current, SnapshotStore::Ptr reference,
                                     Reference kind) {
  Job job;
  job.kind = Job::Kind::kCompare;
  job.current = std::move(current);
  job.reference = std::move(reference);
  job.reference_kind = kind;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_ || finished_) return;
    if (options.queue_policy() == QueuePolicy::kSkipToNewest) {
      // A waiting job of the same layer (since the last epoch mark) is superseded.
      for (auto it = queue_.rbegin(); it != queue_.rend(); ++it) {
        if (it->kind == Job::Kind::kBarrier) break;
        if (it->online_compare() && it->current->layer == job.current->layer) {
          *it = std::move(job);
          ++skipped_;
          ++skipped_since_epoch_;
          return;
        }
      }
    }
    int64_t waiting = 0;
    for (const auto& j : queue_) waiting += j.online_compare() ? 1 : 0;
    if (waiting >= options.queue_capacity()) {
      ++skipped_;
      ++skipped_since_epoch_;
      if (options.queue_policy() == QueuePolicy::kDropNewest) return;
      for (auto it = queue_.begin(); it != queue_.end(); ++it) {
        if (it->online_compare()) {
          queue_.erase(it);
          break;
        }
      }
    }
    queue_.push_back(std::move(job));
  }
  work_ready_.notify_one();
}

void Analyzer::Impl::end_epoch(int64_t epoch, int64_t step) {
  int64_t skipped = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    skipped = std::exchange(skipped_since_epoch_, 0);
  }
  if (skipped > 0) {
    push_job(event_job(MonitorEvent::make(
        MonitorEvent::Kind::kJobsSkipped, step, epoch,
        fmt::format("analysis fell behind: {} snapshot comparison(s) skipped this epoch (policy "
                    "{}); probe less often, lower sample_cap or add analyzer threads",
                    skipped, to_string(options.queue_policy())),
        "", skipped)));
  }
  Job job;
  job.kind = Job::Kind::kBarrier;
  job.epoch = epoch;
  push_job(std::move(job));
}

void Analyzer::Impl::wait_until_idle(std::unique_lock<std::mutex>& lock) {
  // A job leaves `running_` only after its outcome (and every earlier one) was delivered.
  work_done_.wait(lock, [&] { return stopping_ || (queue_.empty() && running_ == 0); });
}

void Analyzer::Impl::flush() {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    wait_until_idle(lock);
  }
  std::lock_guard<std::mutex> lock(delivery_mutex_);
  for_each_sink("flush", [](Sink& s) { s.flush(); });
}

void Analyzer::Impl::finish() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (finished_ || stopping_) return;
  }
  flush();
  const auto final_compare = [&](SnapshotStore::Ptr current, SnapshotStore::Ptr last) {
    Job job;
    job.kind = Job::Kind::kCompare;
    job.current = std::move(current);
    job.reference = std::move(last);
    job.reference_kind = Reference::kFinal;
    push_job(std::move(job));
  };
  if (options.layer_matrix()) {
    const auto layers = store.layers();
    for (const auto& reference_layer : layers) {
      const auto last = store.latest(reference_layer);
      if (!last) continue;
      for (const auto& layer : layers) {
        if (layer == reference_layer) continue;
        for (const auto& snapshot : store.history(layer)) final_compare(snapshot, last);
      }
    }
  }
  if (options.final_pass()) {
    for (const auto& layer : store.layers()) {
      const auto history = store.history(layer);
      for (size_t i = 0; i + 1 < history.size(); ++i) final_compare(history[i], history.back());
    }
  }
  Job close;
  close.kind = Job::Kind::kBarrier;
  close.close_sinks = true;
  push_job(std::move(close));
  std::unique_lock<std::mutex> lock(mutex_);
  wait_until_idle(lock);
  finished_ = true;
}

void Analyzer::Impl::worker() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    work_ready_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    Job job = std::move(queue_.front());
    queue_.pop_front();
    // Jobs leave the queue in order, and their outcomes reach the sinks in that same order
    // however long each took: every sink (the freeze policy too) sees a layer's records in
    // probe order, and an epoch mark after every record queued before it.
    const uint64_t ticket = next_ticket_++;
    ++running_;
    lock.unlock();
    if (job.kind == Job::Kind::kCompare) compare(job);
    if (job.kind == Job::Kind::kProbe && job.current) probe(job);  // else: records made elsewhere
    deliver_in_order(ticket, std::move(job));
    lock.lock();
    --running_;
    work_done_.notify_all();
  }
}

void Analyzer::Impl::deliver_in_order(uint64_t ticket, Job job) {
  std::lock_guard<std::mutex> lock(delivery_mutex_);
  finished_jobs_.emplace(ticket, std::move(job));
  for (auto next = finished_jobs_.begin();
       next != finished_jobs_.end() && next->first == next_delivery_;
       next = finished_jobs_.begin()) {
    deliver(next->second);
    finished_jobs_.erase(next);
    ++next_delivery_;
  }
}

void Analyzer::Impl::compare(Job& job) {
  const auto start = std::chrono::steady_clock::now();
  const Snapshot& cur = *job.current;
  const Snapshot& ref = *job.reference;
  ConvergenceRecord r;
  stamp(cur, r);
  r.reference = job.reference_kind;
  r.reference_step = ref.step;
  r.reference_epoch = ref.epoch;
  r.metric = options.metric();
  if (ref.layer != cur.layer) r.reference_layer = ref.layer;
  try {
    if (cur.rows_per_example != ref.rows_per_example) {
      throw std::invalid_argument(fmt::format(
          "'{}' has {} rows per example and '{}' has {}: their rows are different samples; "
          "compare different layers with conv_layout flatten or pool",
          cur.layer, cur.rows_per_example, ref.layer, ref.rows_per_example));
    }
    sim::ActivationPair pair(cache_.get(job.reference), cache_.get(job.current));
    const auto v = sim::compute_metric(options.metric(), pair, options.metric_options());
    r.value = v.value();
    r.status = v.status();
    r.message = v.message();
    r.kept_dims = v.kept_dims();
    if (options.bootstrap() > 0 && has_value(v.status()) &&
        job.reference_kind != Reference::kFinal) {
      add_interval(ref, cur, r);
    }
  } catch (const std::exception& e) {
    r.status = Status::kError;
    r.message = fmt::format("analysis of layer '{}' (step {} vs {}) failed: {}", cur.layer,
                            cur.step, ref.step, e.what());
  }
  r.compute_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  // The snapshots are released before the record waits for its turn to be delivered.
  job = Job();
  job.kind = Job::Kind::kRecord;
  job.record = std::move(r);
}

void Analyzer::Impl::add_interval(const Snapshot& reference, const Snapshot& current,
                                  ConvergenceRecord& r) const {
  // One seed per layer and probe pass: the same run gives the same intervals.
  uint64_t seed = 1469598103934665603ULL ^ static_cast<uint64_t>(current.probe_index);
  for (const char c : current.layer)
    seed = (seed ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  const auto resampled = sim::resample_metric(options.metric(), reference.to_float(),
                                              current.to_float(), options.metric_options(),
                                              sim::ResamplingOptions()
                                                  .bootstrap(options.bootstrap())
                                                  .confidence(options.confidence())
                                                  .seed(seed),
                                              options.precision());
  r.low = resampled.low;
  r.high = resampled.high;
  std::string note = resampled.message;
  if (current.rows_per_example > 1) {
    note += std::string(note.empty() ? "" : "; ") +
            "the interval resamples spatial positions, which are not independent: it is "
            "narrower than one over images (conv_layout pool or flatten gives one row per image)";
  }
  if (!note.empty()) r.message += (r.message.empty() ? "" : "; ") + note;
}

std::vector<int64_t> Analyzer::Impl::control_labels() {
  std::lock_guard<std::mutex> lock(probe_mutex_);
  if (control_labels_.empty() && !probe_labels_.empty()) {
    control_labels_ =
        probing::control_task(
            control_inputs_, probe_labels_,
            probing::ControlTaskOptions().clusters(options.probing().control_clusters()))
            .labels;
  }
  return control_labels_;
}

void Analyzer::Impl::probe(Job& job) {
  const Snapshot& layer = *job.current;
  ProbeRecord base;
  stamp(layer, base);
  std::vector<ProbeRecord> out;
  const auto fail = [&](ProbeRecord r, Status status, std::string message) {
    r.status = status;
    r.message = std::move(message);
    out.push_back(std::move(r));
  };
  if (options.probing().linear_probe()) {
    const auto start = std::chrono::steady_clock::now();
    ProbeRecord r = base;
    r.kind = ProbeRecord::Kind::kLinearProbe;
    std::vector<int64_t> labels;
    {
      std::lock_guard<std::mutex> lock(probe_mutex_);
      labels = probe_labels_;
    }
    try {
      if (labels.empty()) {
        fail(r, Status::kError,
             "linear_probe is on but the probe examples have no labels: call "
             "Monitor::set_probe_labels before training");
      } else {
        const auto rows = per_example(layer);
        const bool all_kept = layer.sampled_rows.empty();
        if ((all_kept && rows.examples.size() != labels.size()) ||
            (!rows.examples.empty() &&
             rows.examples.back() >= static_cast<int64_t>(labels.size()))) {
          throw std::invalid_argument(fmt::format(
              "the layer holds {} probe examples but {} labels were given",
              all_kept ? rows.examples.size() : rows.examples.back() + 1, labels.size()));
        }
        const auto result = probing::probe_with_control(rows.values, pick(labels, rows.examples),
                                                        pick(control_labels(), rows.examples),
                                                        options.probing().probe());
        r.accuracy = result.probe.accuracy;
        r.train_accuracy = result.probe.train_accuracy;
        r.control_accuracy = result.control.accuracy;
        r.selectivity = result.selectivity;
        r.status = result.probe.status;
        r.message = result.probe.message.empty() ? result.control.message : result.probe.message;
        if (rows.examples.size() < labels.size() && has_value(r.status)) {
          r.message +=
              fmt::format("{}on the {} of {} probe examples that sample_cap kept",
                          r.message.empty() ? "" : "; ", rows.examples.size(), labels.size());
        }
        r.compute_ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                .count();
        out.push_back(std::move(r));
      }
    } catch (const std::exception& e) {
      fail(r, Status::kError,
           fmt::format("linear probe of layer '{}' failed: {}", layer.layer, e.what()));
    }
  }
  if (job.reference) {
    const auto start = std::chrono::steady_clock::now();
    ProbeRecord r = base;
    r.kind = ProbeRecord::Kind::kClassLogit;
    const Snapshot& logits = *job.reference;
    try {
      if (logits.rows_per_example != 1) {
        fail(r, Status::kError,
             fmt::format("class_logits layer '{}' has {} rows per example; it must output one "
                         "row of class scores per example",
                         logits.layer, logits.rows_per_example));
      } else {
        // The examples both snapshots hold (sample_cap may have kept only some).
        const auto layer_rows = per_example(layer);
        const auto logit_rows = per_example(logits);
        std::vector<int64_t> common;
        std::set_intersection(layer_rows.examples.begin(), layer_rows.examples.end(),
                              logit_rows.examples.begin(), logit_rows.examples.end(),
                              std::back_inserter(common));
        const auto take = [&common](const ExampleRows& rows) {
          Eigen::MatrixXf out(static_cast<Eigen::Index>(common.size()), rows.values.cols());
          size_t j = 0;
          for (size_t i = 0; i < rows.examples.size() && j < common.size(); ++i) {
            if (rows.examples[i] == common[j])
              out.row(static_cast<Eigen::Index>(j++)) =
                  rows.values.row(static_cast<Eigen::Index>(i));
          }
          return out;
        };
        const auto results = probing::class_logit_cca(take(layer_rows), take(logit_rows),
                                                      probing::ClassLogitOptions()
                                                          .svcca(options.metric_options().svcca())
                                                          .precision(options.precision()));
        const double ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                .count();
        for (size_t c = 0; c < results.size(); ++c) {
          ProbeRecord rc = r;
          rc.class_index = static_cast<int64_t>(c);
          rc.value = results[c].value;
          rc.status = results[c].status;
          rc.message = results[c].message;
          rc.compute_ms = ms / static_cast<double>(results.size());
          out.push_back(std::move(rc));
        }
      }
    } catch (const std::exception& e) {
      fail(r, Status::kError,
           fmt::format("class-logit CCA of layer '{}' failed: {}", layer.layer, e.what()));
    }
  }
  job = Job();
  job.kind = Job::Kind::kProbe;
  job.probe_records = std::move(out);
}

void Analyzer::Impl::deliver(const Job& job) {
  switch (job.kind) {
    case Job::Kind::kProbe:
      for (const auto& r : job.probe_records) {
        for_each_sink("write_probe", [&](Sink& s) { s.write_probe(r); });
      }
      break;
    case Job::Kind::kCompare:  // turned into a record before delivery
      break;
    case Job::Kind::kRecord:
      ++records_;
      if (!has_value(job.record.status)) ++failed_;
      for_each_sink("write", [&](Sink& s) { s.write(job.record); });
      break;
    case Job::Kind::kEvent:
      for_each_sink("write_event", [&](Sink& s) { s.write_event(job.event); });
      break;
    case Job::Kind::kLayerOrder:
      for_each_sink("layer_order", [&](Sink& s) { s.layer_order(job.layers); });
      break;
    case Job::Kind::kBarrier:
      if (job.close_sinks) {
        for_each_sink("close", [](Sink& s) { s.close(); });
      } else {
        const int64_t epoch = job.epoch;
        for_each_sink("end_epoch", [epoch](Sink& s) { s.end_epoch(epoch); });
      }
      break;
  }
}

template <typename Call>
void Analyzer::Impl::for_each_sink(const char* what, Call&& call) {
  const bool closing = std::string(what) == "close";
  std::vector<std::pair<const SinkSlot*, std::string>> first_failures;
  for (auto& slot : sinks_) {
    // A failed sink (a full disk, a removed directory) is disabled: a log with holes in it
    // would mislead more than one that stops where it failed and says so.
    if (slot->closed || (slot->failed && !closing)) continue;
    std::string error;
    try {
      call(*slot->sink);
    } catch (const std::exception& e) {
      error = e.what();
    } catch (...) {
      error = "it threw something that is not a std::exception";
    }
    if (closing) slot->closed = true;
    if (error.empty()) continue;
    ++sink_errors_;
    if (slot->failed) continue;
    slot->failed = true;
    first_failures.emplace_back(
        slot.get(), fmt::format("sink {} failed in {}: {}; the sink is disabled, training and "
                                "the other sinks go on",
                                slot->sink->name(), what, error));
  }
  // A sink's first failure is said once: by the console sink when one works (else on stderr),
  // and as an event in the other sinks' logs.
  for (const auto& [failed, message] : first_failures) {
    if (!console || failed->console) fmt::print(stderr, "layerwatch: {}\n", message);
    const auto event = MonitorEvent::make(MonitorEvent::Kind::kSinkError, 0, 0, message);
    for (auto& slot : sinks_) {
      if (slot.get() == failed || slot->closed) continue;
      try {
        slot->sink->write_event(event);
      } catch (...) {
        ++sink_errors_;
      }
    }
  }
}

AnalyzerStats Analyzer::Impl::stats() const {
  AnalyzerStats s;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    s.skipped = skipped_;
    s.pending = static_cast<int64_t>(queue_.size()) + running_;
  }
  s.records = records_.load();
  s.failed = failed_.load();
  s.sink_errors = sink_errors_.load();
  s.store = store.stats();
  return s;
}

// ---- the public face ----------------------------------------------------------------------

Analyzer::Analyzer(AnalyzerOptions options, std::vector<std::shared_ptr<Sink>> sinks,
                   const CheckpointContents* resume_from)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(sinks), resume_from)) {}

CheckpointContents Analyzer::save_state() { return impl_->save_state(); }

Analyzer::~Analyzer() = default;

void Analyzer::add_snapshot(Snapshot snapshot) { impl_->add_snapshot(std::move(snapshot)); }

void Analyzer::add_probe_pass(std::vector<Snapshot> snapshots) {
  impl_->add_probe_pass(std::move(snapshots));
}

void Analyzer::set_probe_labels(std::vector<int64_t> labels, Matrix inputs) {
  impl_->set_probe_labels(std::move(labels), std::move(inputs));
}

void Analyzer::add_record(ConvergenceRecord record) {
  Job job;
  job.kind = Job::Kind::kRecord;
  job.record = std::move(record);
  impl_->push_job(std::move(job));
}

void Analyzer::add_probe_records(std::vector<ProbeRecord> records) {
  if (records.empty()) return;
  Job job;
  job.kind = Job::Kind::kProbe;
  job.probe_records = std::move(records);
  impl_->push_job(std::move(job));
}

void Analyzer::set_layer_order(std::vector<std::string> layers) {
  Job job;
  job.kind = Job::Kind::kLayerOrder;
  job.layers = std::move(layers);
  impl_->push_job(std::move(job));
}

void Analyzer::add_event(MonitorEvent event) { impl_->push_job(event_job(std::move(event))); }

void Analyzer::announce(MonitorEvent event) { impl_->announce(std::move(event)); }

void Analyzer::end_epoch(int64_t epoch, int64_t step) { impl_->end_epoch(epoch, step); }

void Analyzer::flush() { impl_->flush(); }

void Analyzer::finish() { impl_->finish(); }

AnalyzerStats Analyzer::stats() const { return impl_->stats(); }

const AnalyzerOptions& Analyzer::options() const { return impl_->options; }

const SnapshotStore& Analyzer::store() const { return impl_->store; }

std::vector<std::string> Analyzer::sink_failures() const { return impl_->sink_failures; }

bool Analyzer::has_console_sink() const { return impl_->console; }

}  // namespace layerwatch
