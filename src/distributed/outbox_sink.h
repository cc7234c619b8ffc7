#pragma once
// The sink of a rank other than 0: keeps what its analyzer delivers (records, probe records,
// events) as JSON until the next exchange sends it to rank 0, whose sinks write it.

#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "layerwatch/analysis/analyzer.h"
#include "layerwatch/sinks/sink.h"

namespace layerwatch::detail {

class OutboxSink : public Sink {
 public:
  std::string name() const override { return "rank-outbox"; }
  void write(const ConvergenceRecord& record) override;
  void write_event(const MonitorEvent& event) override;
  void write_probe(const ProbeRecord& record) override;
  // Everything delivered since the last call, as one JSON array's text.
  std::string take();

 private:
  std::mutex mutex_;
  nlohmann::json items_ = nlohmann::json::array();
};

// Hands what `OutboxSink::take` returned on rank `rank` to rank 0's analyzer, in order; events
// are prefixed with the rank. Throws `std::invalid_argument` for malformed text.
void deliver_outbox(const std::string& text, int rank, Analyzer& analyzer);

}  // namespace layerwatch::detail
