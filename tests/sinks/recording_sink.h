#pragma once
// A sink that keeps what it receives, for tests; optionally slow or failing.

#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "layerwatch/sinks/sink.h"

namespace layerwatch::testing {

class RecordingSink : public Sink {
 public:
  std::string name() const override { return "recording"; }
  void write(const ConvergenceRecord& record) override {
    if (delay.count() > 0) std::this_thread::sleep_for(delay);
    ++write_calls;
    if (throw_on_write) throw std::runtime_error("disk full (test)");
    std::lock_guard<std::mutex> lock(mutex);
    records.push_back(record);
    log.push_back("record:" + record.layer);
  }
  void write_event(const MonitorEvent& event) override {
    std::lock_guard<std::mutex> lock(mutex);
    events.push_back(event);
  }
  void write_probe(const ProbeRecord& record) override {
    std::lock_guard<std::mutex> lock(mutex);
    probes.push_back(record);
  }
  void end_epoch(int64_t epoch) override {
    std::lock_guard<std::mutex> lock(mutex);
    log.push_back("epoch:" + std::to_string(epoch));
  }
  void close() override {
    std::lock_guard<std::mutex> lock(mutex);
    ++closed;
  }

  std::vector<ConvergenceRecord> with_reference(Reference r) const {
    std::lock_guard<std::mutex> lock(mutex);
    std::vector<ConvergenceRecord> out;
    for (const auto& rec : records) {
      if (rec.reference == r) out.push_back(rec);
    }
    return out;
  }

  mutable std::mutex mutex;
  std::vector<ConvergenceRecord> records;
  std::vector<MonitorEvent> events;
  std::vector<ProbeRecord> probes;
  std::vector<std::string> log;
  int closed = 0;
  std::atomic<int> write_calls{0};
  std::chrono::milliseconds delay{0};
  bool throw_on_write = false;
};

}  // namespace layerwatch::testing
