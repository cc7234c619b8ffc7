#include "layerwatch/analysis/analyzer.h"

#include "core/parse_name.h"

#include <fmt/format.h>

#include <chrono>
#include <stdexcept>
#include <utility>

namespace layerwatch {

namespace sim = similarity;

const char* to_string(QueuePolicy policy) noexcept {
  return policy == QueuePolicy::kSkipToNewest ? "skip_to_newest" : "drop_newest";
}

QueuePolicy parse_queue_policy(const std::string& name) {
  return detail::parse_name(
      name,
      std::initializer_list<QueuePolicy>{QueuePolicy::kSkipToNewest, QueuePolicy::kDropNewest},
      "queue_policy");
}

struct Analyzer::Job {
  enum class Kind { kCompare, kRecord, kEvent, kBarrier };
  Kind kind = Kind::kCompare;
  SnapshotStore::Ptr current, reference;
  Reference reference_kind = Reference::kPrevious;
  ConvergenceRecord record;
  MonitorEvent event;
  int64_t epoch = 0;
  bool close_sinks = false;

  bool online_compare() const {
    return kind == Kind::kCompare && reference_kind != Reference::kFinal;
  }
};

struct Analyzer::SinkSlot {
  std::shared_ptr<Sink> sink;
  bool failed = false;  // reported once; later failures are only counted
  bool closed = false;
};

// Prepared activations of recent snapshots, so that a snapshot compared twice (with its
// predecessor, then with its successor; or the final snapshot against every stored one) is
// centred and factorized once. Holds weak references: it never keeps a snapshot alive.
class Analyzer::ActivationCache {
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

Analyzer::Analyzer(AnalyzerOptions options, std::vector<std::shared_ptr<Sink>> sinks)
    : options_(std::move(options)), store_(options_.store()) {
  if (options_.threads() < 1 || options_.threads() > 64) {
    throw std::invalid_argument(
        fmt::format("threads must be in [1, 64], got {}", options_.threads()));
  }
  if (options_.reference_lag() < 1) {
    throw std::invalid_argument(
        fmt::format("reference_lag must be at least 1, got {}", options_.reference_lag()));
  }
  if (options_.queue_capacity() < 1) {
    throw std::invalid_argument(
        fmt::format("queue_capacity must be at least 1, got {}", options_.queue_capacity()));
  }
  if (options_.reference() == Reference::kFinal) {
    throw std::invalid_argument(
        "reference must be previous or first for the online signal; the final reference is "
        "computed at finish() (final_pass)");
  }
  cache_ = std::make_unique<ActivationCache>(options_.precision());
  std::vector<MonitorEvent> open_errors;
  for (auto& sink : sinks) {
    if (!sink) continue;
    try {
      sink->open();
      sinks_.push_back(std::make_unique<SinkSlot>(SinkSlot{sink}));
    } catch (const std::exception& e) {
      const auto message = fmt::format("sink {} is disabled: {}; the other sinks keep logging",
                                       sink->name(), e.what());
      fmt::print(stderr, "layerwatch: {}\n", message);
      sink_failures_.push_back(message);
      ++sink_errors_;
      MonitorEvent event;
      event.kind = MonitorEvent::Kind::kSinkError;
      event.message = message;
      open_errors.push_back(event);
    }
  }
  for (auto& event : open_errors) add_event(std::move(event));
  for (int64_t i = 0; i < options_.threads(); ++i) workers_.emplace_back([this] { worker(); });
}

Analyzer::~Analyzer() {
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
    for_each_sink("close", [](Sink& s) { s.close(); });
  }
}

void Analyzer::push_job(Job job) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_ || finished_) return;
    queue_.push_back(std::move(job));
  }
  work_ready_.notify_one();
}

void Analyzer::add_snapshot(Snapshot snapshot) {
  const std::string layer = snapshot.layer;
  const int64_t step = snapshot.step, epoch = snapshot.epoch, probe = snapshot.probe_index;
  const bool first = options_.reference() == Reference::kFirst;
  // Resolve the reference before pushing, so this push cannot evict it.
  SnapshotStore::Ptr reference;
  if (first) {
    reference = store_.pinned(layer);
  } else {
    const auto history = store_.history(layer);
    const auto lag = static_cast<size_t>(options_.reference_lag());
    if (history.size() >= lag) reference = history[history.size() - lag];
  }
  auto result = store_.push(std::move(snapshot), first && !reference);

  if (!result.evicted.empty()) {
    MonitorEvent event;
    event.kind = MonitorEvent::Kind::kSnapshotEvicted;
    event.step = step;
    event.epoch = epoch;
    event.count = static_cast<int64_t>(result.evicted.size());
    event.message = fmt::format(
        "{} old snapshot(s) evicted to stay within the store's capacity or "
        "memory budget (first: {})",
        result.evicted.size(), result.evicted.front());
    add_event(std::move(event));
  }
  if (!result.stored) {
    ConvergenceRecord record;
    record.step = step;
    record.epoch = epoch;
    record.probe_index = probe;
    record.layer = layer;
    record.reference = options_.reference();
    record.metric = options_.metric();
    record.status = Status::kTooLarge;
    record.message = result.refusal;
    MonitorEvent event;
    event.kind = MonitorEvent::Kind::kSnapshotRefused;
    event.step = step;
    event.epoch = epoch;
    event.layer = layer;
    event.count = 1;
    event.message = result.refusal;
    add_event(std::move(event));
    add_record(std::move(record));
    return;
  }
  if (reference)
    enqueue_compare(std::move(result.stored), std::move(reference), options_.reference());
}

void Analyzer::enqueue_compare(SnapshotStore::Ptr current, SnapshotStore::Ptr reference,
                               Reference kind) {
  Job job;
  job.kind = Job::Kind::kCompare;
  job.current = std::move(current);
  job.reference = std::move(reference);
  job.reference_kind = kind;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_ || finished_) return;
    if (options_.queue_policy() == QueuePolicy::kSkipToNewest) {
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
    if (waiting >= options_.queue_capacity()) {
      ++skipped_;
      ++skipped_since_epoch_;
      if (options_.queue_policy() == QueuePolicy::kDropNewest) return;
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

void Analyzer::add_record(ConvergenceRecord record) {
  Job job;
  job.kind = Job::Kind::kRecord;
  job.record = std::move(record);
  push_job(std::move(job));
}

void Analyzer::add_event(MonitorEvent event) {
  Job job;
  job.kind = Job::Kind::kEvent;
  job.event = std::move(event);
  push_job(std::move(job));
}

void Analyzer::end_epoch(int64_t epoch, int64_t step) {
  int64_t skipped = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    skipped = std::exchange(skipped_since_epoch_, 0);
  }
  if (skipped > 0) {
    MonitorEvent event;
    event.kind = MonitorEvent::Kind::kJobsSkipped;
    event.step = step;
    event.epoch = epoch;
    event.count = skipped;
    event.message = fmt::format(
        "analysis fell behind: {} snapshot comparison(s) skipped this epoch (policy {}); "
        "probe less often, lower sample_cap or add analyzer threads",
        skipped, to_string(options_.queue_policy()));
    add_event(std::move(event));
  }
  Job job;
  job.kind = Job::Kind::kBarrier;
  job.epoch = epoch;
  push_job(std::move(job));
}

void Analyzer::flush() {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    work_done_.wait(lock, [&] { return stopping_ || (queue_.empty() && running_ == 0); });
  }
  for_each_sink("flush", [](Sink& s) { s.flush(); });
}

void Analyzer::finish() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (finished_ || stopping_) return;
  }
  flush();
  if (options_.layer_matrix()) {
    const auto layers = store_.layers();
    for (const auto& reference_layer : layers) {
      const auto last = store_.latest(reference_layer);
      if (!last) continue;
      for (const auto& layer : layers) {
        if (layer == reference_layer) continue;
        for (const auto& snapshot : store_.history(layer)) {
          Job job;
          job.kind = Job::Kind::kCompare;
          job.current = snapshot;
          job.reference = last;
          job.reference_kind = Reference::kFinal;
          push_job(std::move(job));
        }
      }
    }
  }
  if (options_.final_pass()) {
    for (const auto& layer : store_.layers()) {
      const auto history = store_.history(layer);
      if (history.size() < 2) continue;
      const auto& last = history.back();
      for (size_t i = 0; i + 1 < history.size(); ++i) {
        Job job;
        job.kind = Job::Kind::kCompare;
        job.current = history[i];
        job.reference = last;
        job.reference_kind = Reference::kFinal;
        push_job(std::move(job));
      }
    }
  }
  Job close;
  close.kind = Job::Kind::kBarrier;
  close.close_sinks = true;
  push_job(std::move(close));
  {
    std::unique_lock<std::mutex> lock(mutex_);
    work_done_.wait(lock, [&] { return stopping_ || (queue_.empty() && running_ == 0); });
    finished_ = true;
  }
}

void Analyzer::worker() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    work_ready_.wait(lock, [&] {
      if (stopping_) return true;
      if (queue_.empty() || barrier_running_) return false;
      // An epoch mark waits for every job before it, so sinks see the epoch complete.
      return queue_.front().kind != Job::Kind::kBarrier || running_ == 0;
    });
    if (stopping_) return;
    Job job = std::move(queue_.front());
    queue_.pop_front();
    const bool barrier = job.kind == Job::Kind::kBarrier;
    barrier_running_ = barrier;
    ++running_;
    lock.unlock();
    run(job);
    job = Job();  // release the snapshots before reporting the job done
    lock.lock();
    --running_;
    if (barrier) barrier_running_ = false;
    work_done_.notify_all();
    work_ready_.notify_all();
  }
}

void Analyzer::run(Job& job) {
  switch (job.kind) {
    case Job::Kind::kCompare: {
      const auto start = std::chrono::steady_clock::now();
      const Snapshot& cur = *job.current;
      const Snapshot& ref = *job.reference;
      ConvergenceRecord r;
      r.step = cur.step;
      r.epoch = cur.epoch;
      r.probe_index = cur.probe_index;
      r.layer = cur.layer;
      r.reference = job.reference_kind;
      r.reference_step = ref.step;
      r.reference_epoch = ref.epoch;
      r.metric = options_.metric();
      if (ref.layer != cur.layer) r.reference_layer = ref.layer;
      try {
        if (cur.rows_per_example != ref.rows_per_example) {
          throw std::invalid_argument(fmt::format(
              "'{}' has {} rows per example and '{}' has {}: their rows are different samples; "
              "compare different layers with conv_layout flatten or pool",
              cur.layer, cur.rows_per_example, ref.layer, ref.rows_per_example));
        }
        sim::ActivationPair pair(cache_->get(job.reference), cache_->get(job.current));
        auto v = sim::compute_metric(options_.metric(), pair, options_.metric_options());
        r.value = v.value;
        r.status = v.status;
        r.message = std::move(v.message);
        r.kept_dims = std::move(v.kept_dims);
      } catch (const std::exception& e) {
        r.status = Status::kError;
        r.message = fmt::format("analysis of layer '{}' (step {} vs {}) failed: {}", cur.layer,
                                cur.step, ref.step, e.what());
      }
      r.compute_ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count();
      deliver_record(r);
      break;
    }
    case Job::Kind::kRecord:
      deliver_record(job.record);
      break;
    case Job::Kind::kEvent:
      deliver_event(job.event);
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
void Analyzer::for_each_sink(const char* what, Call&& call) {
  std::lock_guard<std::mutex> lock(sink_mutex_);
  const bool closing = std::string(what) == "close";
  for (auto& slot : sinks_) {
    if (slot->closed) continue;
    try {
      call(*slot->sink);
    } catch (const std::exception& e) {
      ++sink_errors_;
      if (!slot->failed) {
        slot->failed = true;
        fmt::print(stderr,
                   "layerwatch: sink {} failed in {}: {}; training goes on, further failures of "
                   "this sink are only counted\n",
                   slot->sink->name(), what, e.what());
      }
    }
    if (closing) slot->closed = true;
  }
}

void Analyzer::deliver_record(const ConvergenceRecord& record) {
  ++records_;
  if (!has_value(record.status)) ++failed_;
  for_each_sink("write", [&](Sink& s) { s.write(record); });
}

void Analyzer::deliver_event(const MonitorEvent& event) {
  for_each_sink("write_event", [&](Sink& s) { s.write_event(event); });
}

AnalyzerStats Analyzer::stats() const {
  AnalyzerStats s;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    s.skipped = skipped_;
    s.pending = static_cast<int64_t>(queue_.size()) + running_;
  }
  s.records = records_.load();
  s.failed = failed_.load();
  s.sink_errors = sink_errors_.load();
  s.store = store_.stats();
  return s;
}

std::vector<std::string> Analyzer::sink_failures() const { return sink_failures_; }

}  // namespace layerwatch
